// Shared by every kernels/*.cu: dtype names, conversions, limits, launch-parameter
// structs and block-level reductions.
//
// Self-contained on purpose: NVRTC compiles these files from a string (the loader
// inlines this header), and CuPy's bundled cuda_fp16.h does not always match the
// local toolkit, so float16 is a 16-bit storage type converted with PTX `cvt`.
#pragma once

#define AG_MAX_DIMS 8
#define AG_MAX_IN 3

// ---------------------------------------------------------------------------------
// dtypes: ag_t_<name> is the storage type of the autograd_gpu dtype <name>
struct ag_float16 { unsigned short x; };
typedef ag_float16 ag_t_float16;
typedef float ag_t_float32;
typedef double ag_t_float64;
typedef signed char ag_t_int8;
typedef unsigned char ag_t_uint8;
typedef short ag_t_int16;
typedef int ag_t_int32;
typedef long long ag_t_int64;
typedef bool ag_t_bool;

// the type arithmetic happens in: float16 computes in float
template <typename T> struct Compute { typedef T type; };
template <> struct Compute<ag_float16> { typedef float type; };

__device__ __forceinline__ float ag_h2f(ag_float16 h) {
  float f;
  asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h.x));
  return f;
}
__device__ __forceinline__ ag_float16 ag_f2h(float f) {
  ag_float16 h;
  asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h.x) : "f"(f));
  return h;
}
__device__ __forceinline__ ag_float16 ag_d2h(double d) {
  ag_float16 h;
  asm("cvt.rn.f16.f64 %0, %1;" : "=h"(h.x) : "d"(d));
  return h;
}

// Cvt<To>::from(v): value conversion between any two supported types
template <typename To> struct Cvt {
  template <typename F> __device__ __forceinline__ static To from(F v) { return (To)v; }
  __device__ __forceinline__ static To from(ag_float16 v) { return (To)ag_h2f(v); }
};
template <> struct Cvt<bool> {
  template <typename F> __device__ __forceinline__ static bool from(F v) { return v != (F)0; }
  __device__ __forceinline__ static bool from(bool v) { return v; }
  __device__ __forceinline__ static bool from(ag_float16 v) { return ag_h2f(v) != 0.0f; }
};
template <> struct Cvt<ag_float16> {
  template <typename F> __device__ __forceinline__ static ag_float16 from(F v) { return ag_f2h((float)v); }
  __device__ __forceinline__ static ag_float16 from(double v) { return ag_d2h(v); }
  __device__ __forceinline__ static ag_float16 from(ag_float16 v) { return v; }
};

// scalar kernel parameters arrive as a double and a long long; pick the exact one
template <typename C> struct Scalar {
  __device__ __forceinline__ static C get(double f, long long i) { return (C)i; }
};
template <> struct Scalar<float> {
  __device__ __forceinline__ static float get(double f, long long) { return (float)f; }
};
template <> struct Scalar<double> {
  __device__ __forceinline__ static double get(double f, long long) { return f; }
};
template <> struct Scalar<bool> {
  __device__ __forceinline__ static bool get(double, long long i) { return i != 0; }
};

// ---------------------------------------------------------------------------------
// limits and NaN
template <typename T> struct Lim;
template <> struct Lim<float> {
  __device__ __forceinline__ static float lowest() { return __int_as_float(0xff800000); }
  __device__ __forceinline__ static float highest() { return __int_as_float(0x7f800000); }
};
template <> struct Lim<double> {
  __device__ __forceinline__ static double lowest() { return __longlong_as_double(0xfff0000000000000ULL); }
  __device__ __forceinline__ static double highest() { return __longlong_as_double(0x7ff0000000000000ULL); }
};
template <> struct Lim<int> {
  __device__ __forceinline__ static int lowest() { return -2147483647 - 1; }
  __device__ __forceinline__ static int highest() { return 2147483647; }
};
template <> struct Lim<long long> {
  __device__ __forceinline__ static long long lowest() { return -9223372036854775807LL - 1; }
  __device__ __forceinline__ static long long highest() { return 9223372036854775807LL; }
};
template <> struct Lim<bool> {
  __device__ __forceinline__ static bool lowest() { return false; }
  __device__ __forceinline__ static bool highest() { return true; }
};

template <typename T> __device__ __forceinline__ bool ag_isnan(T v) { return v != v; }

// ---------------------------------------------------------------------------------
// math overloads (float / double) so templated ops need no CUDA headers
#define AG_MATH1(NAME, FF, DF)                                                      \
  __device__ __forceinline__ float NAME(float x) { return FF(x); }                 \
  __device__ __forceinline__ double NAME(double x) { return DF(x); }
AG_MATH1(ag_exp, expf, exp)
AG_MATH1(ag_log, logf, log)
AG_MATH1(ag_log1p, log1pf, log1p)
AG_MATH1(ag_expm1, expm1f, expm1)
AG_MATH1(ag_sqrt, sqrtf, sqrt)
AG_MATH1(ag_rsqrt, rsqrtf, rsqrt)
AG_MATH1(ag_sin, sinf, sin)
AG_MATH1(ag_cos, cosf, cos)
AG_MATH1(ag_tanh, tanhf, tanh)
AG_MATH1(ag_erf, erff, erf)
AG_MATH1(ag_floor, floorf, floor)
AG_MATH1(ag_fabs, fabsf, fabs)
#undef AG_MATH1
__device__ __forceinline__ float ag_pow(float x, float y) { return powf(x, y); }
__device__ __forceinline__ double ag_pow(double x, double y) { return pow(x, y); }
__device__ __forceinline__ float ag_fmod(float x, float y) { return fmodf(x, y); }
__device__ __forceinline__ double ag_fmod(double x, double y) { return fmod(x, y); }
__device__ __forceinline__ float ag_copysign(float x, float y) { return copysignf(x, y); }
__device__ __forceinline__ double ag_copysign(double x, double y) { return copysign(x, y); }

// ---------------------------------------------------------------------------------
// launch parameters, passed by value; layouts mirror the struct.Struct formats in
// autograd_gpu/backends/cupy_backend.py (explicit padding, no implicit holes)
struct EwParams {                       // elementwise.cu, 344 bytes
  long long n;                          // elements of the output
  int ndim;                             // collapsed dims (mode 0 only)
  int mode;                             // 0 strided, 1 contiguous, 2 contiguous + vec4
  int scalar_mask;                      // bit k: input k is a scalar in fs[k]/is[k]
  int pad_;
  double a, b;                          // the op's scalar parameters
  double fs[AG_MAX_IN];
  long long is[AG_MAX_IN];
  long long shape[AG_MAX_DIMS];         // collapsed output shape
  long long st[AG_MAX_IN][AG_MAX_DIMS]; // element strides of each input (0: broadcast)
};

struct CopyParams {                     // copy.cu, 208 bytes
  long long n;
  int ndim;
  int contig;                           // 1: both operands C-contiguous
  long long shape[AG_MAX_DIMS];
  long long st[2][AG_MAX_DIMS];         // [0] destination, [1] source element strides
};

struct IdxParams {                      // index.cu, 304 bytes
  long long n;                          // iterations
  int ndim, axis;
  long long axis_size;                  // size used to wrap negative indices
  int src_scalar, accumulate;
  double fsrc;
  long long isrc;
  long long shape[AG_MAX_DIMS];         // iteration shape
  long long st[3][AG_MAX_DIMS];         // element strides of up to three operands
};

// ---------------------------------------------------------------------------------
// grid-stride helpers
__device__ __forceinline__ long long ag_tid() {
  return (long long)blockIdx.x * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ long long ag_nthreads() { return (long long)gridDim.x * blockDim.x; }

// ---------------------------------------------------------------------------------
// warp / block reductions (blockDim.x must be a multiple of 32, at most 1024)
__device__ __forceinline__ float ag_shfl_down(float v, int o) { return __shfl_down_sync(0xffffffffu, v, o); }
__device__ __forceinline__ double ag_shfl_down(double v, int o) { return __shfl_down_sync(0xffffffffu, v, o); }
__device__ __forceinline__ int ag_shfl_down(int v, int o) { return __shfl_down_sync(0xffffffffu, v, o); }
__device__ __forceinline__ long long ag_shfl_down(long long v, int o) { return __shfl_down_sync(0xffffffffu, v, o); }
__device__ __forceinline__ bool ag_shfl_down(bool v, int o) { return __shfl_down_sync(0xffffffffu, (int)v, o) != 0; }
__device__ __forceinline__ float ag_shfl_up(float v, int o) { return __shfl_up_sync(0xffffffffu, v, o); }
__device__ __forceinline__ double ag_shfl_up(double v, int o) { return __shfl_up_sync(0xffffffffu, v, o); }
__device__ __forceinline__ int ag_shfl_up(int v, int o) { return __shfl_up_sync(0xffffffffu, v, o); }
__device__ __forceinline__ long long ag_shfl_up(long long v, int o) { return __shfl_up_sync(0xffffffffu, v, o); }

template <typename A, typename Op> __device__ __forceinline__ A ag_warp_reduce(A v, Op op) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = op(v, ag_shfl_down(v, o));
  return v;
}

// every thread of the block gets the result
template <typename A, typename Op> __device__ A ag_block_reduce(A v, Op op, A ident) {
  __shared__ A sh[32];
  const int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
  v = ag_warp_reduce(v, op);
  __syncthreads();                      // sh may still be read by a previous call
  if (lane == 0) sh[wid] = v;
  __syncthreads();
  if (wid == 0) {
    v = lane < nw ? sh[lane] : ident;
    v = ag_warp_reduce(v, op);
    if (lane == 0) sh[0] = v;
  }
  __syncthreads();
  return sh[0];
}

// ---------------------------------------------------------------------------------
// atomics for index_add / scatter_add / put(accumulate=True)
__device__ __forceinline__ void ag_atomic_add(float* p, float v) { atomicAdd(p, v); }
__device__ __forceinline__ void ag_atomic_add(double* p, double v) { atomicAdd(p, v); }
__device__ __forceinline__ void ag_atomic_add(int* p, int v) { atomicAdd(p, v); }
__device__ __forceinline__ void ag_atomic_add(long long* p, long long v) {
  atomicAdd((unsigned long long*)p, (unsigned long long)v);  // two's complement: same bits
}
__device__ __forceinline__ void ag_atomic_add(bool* p, bool v) {
  if (v) *p = true;                     // logical or; racing writers all store true
}
// *p = f(*p) atomically for a half: CAS on the aligned 32-bit word holding it; f works in float
template <typename F> __device__ __forceinline__ void ag_atomic_update_half(ag_float16* p, F f) {
  unsigned int* word = (unsigned int*)((unsigned long long)p & ~3ULL);
  const bool hi = ((unsigned long long)p & 2ULL) != 0;
  unsigned int old = *word, assumed;
  do {
    assumed = old;
    ag_float16 cur;
    cur.x = (unsigned short)(hi ? (assumed >> 16) : (assumed & 0xffffu));
    const ag_float16 nxt = ag_f2h(f(ag_h2f(cur)));
    const unsigned int nw = hi ? ((assumed & 0x0000ffffu) | ((unsigned int)nxt.x << 16))
                               : ((assumed & 0xffff0000u) | (unsigned int)nxt.x);
    if (nw == assumed) return;            // unchanged (a max that does not win, + 0): no write
    old = atomicCAS(word, assumed, nw);
  } while (assumed != old);
}
struct AgAddF {
  float v;
  __device__ __forceinline__ float operator()(float a) const { return a + v; }
};
__device__ __forceinline__ void ag_atomic_add(ag_float16* p, float v) {
  ag_atomic_update_half(p, AgAddF{v});   // accumulates in float per step
}

// dtype lists: X(DT) for each dtype of a set (KERNELS.md: F, A, A+B)
#define AG_FOR_F(X) X(float16) X(float32) X(float64)
#define AG_FOR_A(X) AG_FOR_F(X) X(int32) X(int64)
#define AG_FOR_AB(X) AG_FOR_A(X) X(bool)
#define AG_FOR_ALL(X) AG_FOR_AB(X) X(int8) X(uint8) X(int16)
