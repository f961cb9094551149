// Softmax family along one axis of contiguous inputs viewed as (outer, L, inner).
//
// softmax_fwd / log_softmax_fwd_<dtype>(T* out, const T* x, const T* unused, rows, L, inner)
// softmax_bwd / log_softmax_bwd_<dtype>(T* out, const T* g, const T* y, rows, L, inner)
// One block per (o, i) row (rows = outer * inner), max-subtracted, accumulating in
// float for float16 and double for float64.
#include "common.cuh"

struct SumOp {
  template <typename A> __device__ __forceinline__ A operator()(A x, A y) const { return x + y; }
};
struct MaxOp {
  template <typename A> __device__ __forceinline__ A operator()(A x, A y) const {
    return ag_isnan(x) ? x : (ag_isnan(y) ? y : (x > y ? x : y));
  }
};

template <bool Log, typename T>
__device__ void softmax_fwd_run(T* out, const T* x, long long rows, long long L, long long inner) {
  typedef typename Compute<T>::type A;
  for (long long row = blockIdx.x; row < rows; row += gridDim.x) {
    const long long o = row / inner, in = row % inner;
    const long long base = o * L * inner + in;
    A m = Lim<A>::lowest();
    for (long long j = threadIdx.x; j < L; j += blockDim.x) m = MaxOp()(m, Cvt<A>::from(x[base + j * inner]));
    m = ag_block_reduce(m, MaxOp(), Lim<A>::lowest());
    A s = A(0);
    for (long long j = threadIdx.x; j < L; j += blockDim.x) s += ag_exp(Cvt<A>::from(x[base + j * inner]) - m);
    s = ag_block_reduce(s, SumOp(), A(0));
    if (Log) {
      const A shift = m + ag_log(s);
      for (long long j = threadIdx.x; j < L; j += blockDim.x)
        out[base + j * inner] = Cvt<T>::from(Cvt<A>::from(x[base + j * inner]) - shift);
    } else {
      const A inv = A(1) / s;
      for (long long j = threadIdx.x; j < L; j += blockDim.x)
        out[base + j * inner] = Cvt<T>::from(ag_exp(Cvt<A>::from(x[base + j * inner]) - m) * inv);
    }
  }
}

template <bool Log, typename T>
__device__ void softmax_bwd_run(T* out, const T* g, const T* y, long long rows, long long L, long long inner) {
  typedef typename Compute<T>::type A;
  for (long long row = blockIdx.x; row < rows; row += gridDim.x) {
    const long long o = row / inner, in = row % inner;
    const long long base = o * L * inner + in;
    A s = A(0);
    for (long long j = threadIdx.x; j < L; j += blockDim.x) {
      const long long p = base + j * inner;
      s += Log ? Cvt<A>::from(g[p]) : Cvt<A>::from(g[p]) * Cvt<A>::from(y[p]);
    }
    s = ag_block_reduce(s, SumOp(), A(0));
    for (long long j = threadIdx.x; j < L; j += blockDim.x) {
      const long long p = base + j * inner;
      const A gv = Cvt<A>::from(g[p]), yv = Cvt<A>::from(y[p]);
      out[p] = Cvt<T>::from(Log ? gv - ag_exp(yv) * s : yv * (gv - s));
    }
  }
}

#define SOFTMAX_KERNELS(DT)                                                                  \
  extern "C" __global__ void softmax_fwd_##DT(ag_t_##DT* out, const ag_t_##DT* x,             \
                                              const ag_t_##DT*, long long rows, long long L,   \
                                              long long inner) {                              \
    softmax_fwd_run<false>(out, x, rows, L, inner);                                           \
  }                                                                                          \
  extern "C" __global__ void log_softmax_fwd_##DT(ag_t_##DT* out, const ag_t_##DT* x,         \
                                                  const ag_t_##DT*, long long rows, long long L, \
                                                  long long inner) {                          \
    softmax_fwd_run<true>(out, x, rows, L, inner);                                            \
  }                                                                                          \
  extern "C" __global__ void softmax_bwd_##DT(ag_t_##DT* out, const ag_t_##DT* g,             \
                                              const ag_t_##DT* y, long long rows, long long L, \
                                              long long inner) {                              \
    softmax_bwd_run<false>(out, g, y, rows, L, inner);                                        \
  }                                                                                          \
  extern "C" __global__ void log_softmax_bwd_##DT(ag_t_##DT* out, const ag_t_##DT* g,         \
                                                  const ag_t_##DT* y, long long rows, long long L, \
                                                  long long inner) {                          \
    softmax_bwd_run<true>(out, g, y, rows, L, inner);                                         \
  }
AG_FOR_F(SOFTMAX_KERNELS)
