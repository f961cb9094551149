// Counter-based random numbers (Philox4x32-10, Salmon et al. 2011) and dropout.
//
// Every number is a pure function of (seed, offset, element index): element i uses the Philox
// block whose counter is offset + i (64-bit, in words 0-1) under the 64-bit key seed. No state
// lives on the device, so a generator is (seed, offset) on the host, the launches are
// reproducible, and dropout's backward regenerates its mask instead of saving it.
//
// elementwise.cuh is included only for common.cuh's types and so that KERNELS.md's table
// of this file is read like the elementwise files' tables (tests/test_kernels_static.py).
#include "elementwise.cuh"

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

struct U4 { unsigned int x, y, z, w; };

__device__ __forceinline__ U4 philox(unsigned long long seed, unsigned long long ctr) {
  unsigned int c0 = (unsigned int)ctr, c1 = (unsigned int)(ctr >> 32), c2 = 0u, c3 = 0u;
  unsigned int k0 = (unsigned int)seed, k1 = (unsigned int)(seed >> 32);
#pragma unroll
  for (int r = 0; r < 10; ++r) {
    unsigned int hi0 = __umulhi(PHILOX_M0, c0), lo0 = PHILOX_M0 * c0;
    unsigned int hi1 = __umulhi(PHILOX_M1, c2), lo1 = PHILOX_M1 * c2;
    c0 = hi1 ^ c1 ^ k0; c1 = lo1; c2 = hi0 ^ c3 ^ k1; c3 = lo0;
    k0 += PHILOX_W0; k1 += PHILOX_W1;
  }
  U4 r = {c0, c1, c2, c3};
  return r;
}

// [0, 1) from 24 bits (float) or 53 bits (double)
__device__ __forceinline__ float u01f(unsigned int a) { return (a >> 8) * (1.0f / 16777216.0f); }
__device__ __forceinline__ double u01d(unsigned int a, unsigned int b) {
  return ((unsigned long long)(a >> 5) * 67108864.0 + (double)(b >> 6)) * (1.0 / 9007199254740992.0);
}

template <typename T> struct Uniform {
  __device__ __forceinline__ static T draw(const U4& r) { return Cvt<T>::from(u01d(r.x, r.y)); }
};
template <> struct Uniform<float> {
  __device__ __forceinline__ static float draw(const U4& r) { return u01f(r.x); }
};
template <> struct Uniform<ag_float16> {   // 24 bits rounded to half can reach 1.0: use 11 bits
  __device__ __forceinline__ static ag_float16 draw(const U4& r) { return ag_f2h((r.x >> 21) * (1.0f / 2048.0f)); }
};

#define GRID_LOOP(i, n) \
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < (n); i += (long long)gridDim.x * blockDim.x)

// uniform_fwd_<F>(out, n, seed, offset): out[i] in [0, 1)
#define UNIFORM(DT)                                                                                   \
  extern "C" __global__ void uniform_fwd_##DT(ag_t_##DT* out, long long n, unsigned long long seed,  \
                                              unsigned long long offset) {                           \
    GRID_LOOP(i, n) out[i] = Uniform<ag_t_##DT>::draw(philox(seed, offset + (unsigned long long)i));  \
  }

// normal_fwd_<F>(out, n, seed, offset): standard normal by Box-Muller (one per block, in double
// for float64; log of (0, 1] so never -inf)
#define NORMAL(DT)                                                                                    \
  extern "C" __global__ void normal_fwd_##DT(ag_t_##DT* out, long long n, unsigned long long seed,   \
                                             unsigned long long offset) {                            \
    GRID_LOOP(i, n) {                                                                                 \
      U4 r = philox(seed, offset + (unsigned long long)i);                                            \
      double u1 = 1.0 - u01d(r.x, r.y), u2 = u01d(r.z, r.w);                                          \
      out[i] = Cvt<ag_t_##DT>::from(sqrt(-2.0 * log(u1)) * cospi(2.0 * u2));                          \
    }                                                                                                 \
  }

// randint_fwd_int64(out, n, low, range, seed, offset): low + (64 random bits mod range)
extern "C" __global__ void randint_fwd_int64(long long* out, long long n, long long low, unsigned long long range,
                                             unsigned long long seed, unsigned long long offset) {
  GRID_LOOP(i, n) {
    U4 r = philox(seed, offset + (unsigned long long)i);
    unsigned long long bits = ((unsigned long long)r.x << 32) | r.y;
    out[i] = low + (long long)(bits % range);
  }
}

// Dropout: element i keeps when the uniform of block offset + i / group is >= p (group: the
// elements sharing one draw, e.g. a channel's pixels for dropout2d).
// fwd: out = keep ? x * scale + shift : fill   (dropout: shift = fill = 0; alpha dropout: affine)
// bwd: gin = keep ? g * scale : 0              (the same mask, regenerated)
__device__ __forceinline__ bool keep(long long i, long long group, float p, unsigned long long seed,
                                     unsigned long long offset) {
  return u01f(philox(seed, offset + (unsigned long long)(i / group)).x) >= p;
}

#define DROPOUT(DT)                                                                                         \
  extern "C" __global__ void dropout_fwd_##DT(ag_t_##DT* out, const ag_t_##DT* x, long long n, long long group, \
                                              float p, double scale, double shift, double fill,             \
                                              unsigned long long seed, unsigned long long offset) {         \
    typedef Compute<ag_t_##DT>::type C;                                                                     \
    GRID_LOOP(i, n) {                                                                                       \
      C v = keep(i, group, p, seed, offset) ? Cvt<C>::from(x[i]) * (C)scale + (C)shift : (C)fill;           \
      out[i] = Cvt<ag_t_##DT>::from(v);                                                                     \
    }                                                                                                       \
  }                                                                                                         \
  extern "C" __global__ void dropout_bwd_##DT(ag_t_##DT* gin, const ag_t_##DT* g, long long n, long long group, \
                                              float p, double scale, unsigned long long seed,               \
                                              unsigned long long offset) {                                  \
    typedef Compute<ag_t_##DT>::type C;                                                                     \
    GRID_LOOP(i, n) {                                                                                       \
      C v = keep(i, group, p, seed, offset) ? Cvt<C>::from(g[i]) * (C)scale : (C)0;                         \
      gin[i] = Cvt<ag_t_##DT>::from(v);                                                                     \
    }                                                                                                       \
  }

#define ALL_F(M) M(float16) M(float32) M(float64)
ALL_F(UNIFORM)
ALL_F(NORMAL)
ALL_F(DROPOUT)
