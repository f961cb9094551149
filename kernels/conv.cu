// im2col and col2im for convolutions with 1-3 spatial dims (ops/fold.py, ops/conv.py).
//
// Geometry arrives as one ConvGeom struct by value, spatial dims padded to 3 at the front (size 1,
// kernel 1, stride 1, padding 0, dilation 1), so one kernel serves conv1d/2d/3d.
// Column layouts (batch_first): 1 = (B, C, k0, k1, k2, o0, o1, o2), what F.unfold returns;
//                               0 = (C, k0, k1, k2, B, o0, o1, o2), one GEMM for the whole batch.
//
// im2col_fwd_<F>(T* cols, const T* x, ConvGeom g)
//   one thread per column element; reads x (B, C, s0, s1, s2) at o*stride - pad + k*dil, 0 outside.
// col2im_fwd_<F>(T* x, const T* cols, ConvGeom g)
//   one thread per image element (B, C, s0, s1, s2): GATHERS every (tap, window) that covers it,
//   i + pad - k*dil = o*stride with 0 <= o < out, so no atomics and a deterministic sum
//   (float16 sums in float).
#include "common.cuh"

struct ConvGeom {
  long long b, c;
  long long in[3], k[3], out[3], stride[3], pad[3], dil[3];
  long long batch_first;
};

template <typename T>
__device__ void im2col_run(T* cols, const T* x, const ConvGeom g) {
  const long long K = g.k[0] * g.k[1] * g.k[2];
  const long long L = g.out[0] * g.out[1] * g.out[2];
  const long long total = g.b * g.c * K * L, step = ag_nthreads();
  for (long long t = ag_tid(); t < total; t += step) {
    long long r = t;
    const long long o2 = r % g.out[2]; r /= g.out[2];
    const long long o1 = r % g.out[1]; r /= g.out[1];
    const long long o0 = r % g.out[0]; r /= g.out[0];
    long long b, c, kidx;
    if (g.batch_first) {
      kidx = r % K; r /= K;
      c = r % g.c; b = r / g.c;
    } else {
      b = r % g.b; r /= g.b;
      kidx = r % K; c = r / K;
    }
    const long long k2 = kidx % g.k[2];
    const long long k1 = (kidx / g.k[2]) % g.k[1];
    const long long k0 = kidx / (g.k[2] * g.k[1]);
    const long long i0 = o0 * g.stride[0] - g.pad[0] + k0 * g.dil[0];
    const long long i1 = o1 * g.stride[1] - g.pad[1] + k1 * g.dil[1];
    const long long i2 = o2 * g.stride[2] - g.pad[2] + k2 * g.dil[2];
    if (i0 >= 0 && i0 < g.in[0] && i1 >= 0 && i1 < g.in[1] && i2 >= 0 && i2 < g.in[2]) {
      cols[t] = x[(((b * g.c + c) * g.in[0] + i0) * g.in[1] + i1) * g.in[2] + i2];
    } else {
      cols[t] = Cvt<T>::from(0.0f);
    }
  }
}

// the taps k along one dim whose window covers position i: o = (i + pad - k*dil) / stride integral
// and in [0, out); returns the window index or -1
__device__ __forceinline__ long long conv_window(long long i, long long k, long long pad, long long dil,
                                                 long long stride, long long out) {
  const long long q = i + pad - k * dil;
  if (q < 0 || q % stride) return -1;
  const long long o = q / stride;
  return o < out ? o : -1;
}

template <typename T>
__device__ void col2im_run(T* x, const T* cols, const ConvGeom g) {
  typedef typename Compute<T>::type A;
  const long long K = g.k[0] * g.k[1] * g.k[2];
  const long long L = g.out[0] * g.out[1] * g.out[2];
  const long long total = g.b * g.c * g.in[0] * g.in[1] * g.in[2], step = ag_nthreads();
  for (long long t = ag_tid(); t < total; t += step) {
    long long r = t;
    const long long i2 = r % g.in[2]; r /= g.in[2];
    const long long i1 = r % g.in[1]; r /= g.in[1];
    const long long i0 = r % g.in[0]; r /= g.in[0];
    const long long c = r % g.c, b = r / g.c;
    A acc = (A)0;
    for (long long k0 = 0; k0 < g.k[0]; ++k0) {
      const long long o0 = conv_window(i0, k0, g.pad[0], g.dil[0], g.stride[0], g.out[0]);
      if (o0 < 0) continue;
      for (long long k1 = 0; k1 < g.k[1]; ++k1) {
        const long long o1 = conv_window(i1, k1, g.pad[1], g.dil[1], g.stride[1], g.out[1]);
        if (o1 < 0) continue;
        for (long long k2 = 0; k2 < g.k[2]; ++k2) {
          const long long o2 = conv_window(i2, k2, g.pad[2], g.dil[2], g.stride[2], g.out[2]);
          if (o2 < 0) continue;
          const long long kidx = (k0 * g.k[1] + k1) * g.k[2] + k2;
          const long long pos = (o0 * g.out[1] + o1) * g.out[2] + o2;
          const long long row = g.batch_first ? (b * g.c + c) * K + kidx : (c * K + kidx) * g.b + b;
          acc += Cvt<A>::from(cols[row * L + pos]);
        }
      }
    }
    x[t] = Cvt<T>::from(acc);
  }
}

#define CONV_KERNELS(DT)                                                                              \
  extern "C" __global__ void im2col_fwd_##DT(ag_t_##DT* cols, const ag_t_##DT* x, const ConvGeom g) { \
    im2col_run(cols, x, g);                                                                           \
  }                                                                                                   \
  extern "C" __global__ void col2im_fwd_##DT(ag_t_##DT* x, const ag_t_##DT* cols, const ConvGeom g) { \
    col2im_run(x, cols, g);                                                                           \
  }

CONV_KERNELS(float16)
CONV_KERNELS(float32)
CONV_KERNELS(float64)
