// Separable interpolation along one axis of a contiguous (outer, L, inner) array:
//   out[q, o, r] = sum_t w[o*T + t] * x[q, idx[o*T + t], r]
// The host builds the tap tables (nearest, linear, cubic, area windows) in float64; backward
// runs this same kernel with the transposed table, so no atomics. float16 computes in float.
#include "common.cuh"

template <typename T>
__device__ void interp_run(T* out, const T* x, const long long* idx, const double* w, long long outer, long long L,
                           long long O, long long inner, long long taps) {
  typedef typename Compute<T>::type A;
  const long long n = outer * O * inner;
  for (long long i = ag_tid(); i < n; i += ag_nthreads()) {
    const long long r = i % inner, o = (i / inner) % O, q = i / (inner * O);
    const T* xq = x + q * L * inner + r;
    A acc = A(0);
    for (long long t = 0; t < taps; ++t) {
      const A v = Cvt<A>::from(xq[idx[o * taps + t] * inner]);
      acc += A(w[o * taps + t]) * v;
    }
    out[i] = Cvt<T>::from(acc);
  }
}

#define INTERP_KERNELS(DT)                                                                               \
  extern "C" __global__ void interp_fwd_##DT(ag_t_##DT* out, const ag_t_##DT* x, const long long* idx,   \
                                             const double* w, long long outer, long long L, long long O, \
                                             long long inner, long long taps) {                         \
    interp_run(out, x, idx, w, outer, L, O, inner, taps);                                               \
  }
AG_FOR_F(INTERP_KERNELS)
