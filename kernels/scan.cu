// Inclusive scans along one axis of a contiguous input viewed as (outer, L, inner).
//
// <op>_<dtype>(O* out, const T* x, long long rows, long long L, long long inner)
// One block per (o, i) row (rows = outer * inner); the row is scanned in chunks of
// blockDim.x elements (warp shuffles, then one warp over the warp totals) with a
// running carry. cumsum_bwd scans in reverse (the gradient of cumsum).
// float16 accumulates in float; integers and bool give int64 (as PyTorch).
// logcumsumexp_fwd is the same block scan with log(e^a + e^b), in the input's dtype.
//
// cummax_fwd / cummin_fwd_<dtype>(T* vals, long long* idx, const T* x, rows, L, inner):
// one THREAD per row (a sequential pass; neighbouring threads take neighbouring inner
// positions, so reads coalesce when inner > 1).
#include "common.cuh"

struct AddS {
  template <typename A> __device__ __forceinline__ A operator()(A x, A y) const { return x + y; }
  template <typename A> __device__ __forceinline__ static A ident() { return A(0); }
};
struct LogAddS {   // log(e^x + e^y) without overflow; -inf is the identity, NaN propagates
  template <typename A> __device__ __forceinline__ A operator()(A x, A y) const {
    if (ag_isnan(x) || ag_isnan(y)) return x + y;
    const A hi = x > y ? x : y, lo = x > y ? y : x;
    if (lo == Lim<A>::lowest() || hi == Lim<A>::highest()) return hi;   // -inf adds nothing; +inf absorbs
    return hi + ag_log1p(ag_exp(lo - hi));
  }
  template <typename A> __device__ __forceinline__ static A ident() { return Lim<A>::lowest(); }
};
struct MulS {
  template <typename A> __device__ __forceinline__ A operator()(A x, A y) const { return x * y; }
  template <typename A> __device__ __forceinline__ static A ident() { return A(1); }
};

template <typename Op, bool Reverse, typename T, typename A, typename O>
__device__ void scan_run(O* out, const T* x, long long rows, long long L, long long inner) {
  __shared__ A sh[32];
  const Op op;
  const A ident = Op::template ident<A>();
  const int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
  for (long long row = blockIdx.x; row < rows; row += gridDim.x) {
    const long long o = row / inner, in = row % inner;
    const long long base = o * L * inner + in;
    A carry = ident;
    for (long long start = 0; start < L; start += blockDim.x) {
      const long long j = start + threadIdx.x;
      const long long pos = base + (Reverse ? (L - 1 - j) : j) * inner;
      A v = j < L ? Cvt<A>::from(x[pos]) : ident;
#pragma unroll
      for (int off = 1; off < 32; off <<= 1) {
        const A t = ag_shfl_up(v, off);
        if (lane >= off) v = op(t, v);
      }
      if (lane == 31) sh[wid] = v;
      __syncthreads();
      if (wid == 0) {
        A w = lane < nw ? sh[lane] : ident;
#pragma unroll
        for (int off = 1; off < 32; off <<= 1) {
          const A t = ag_shfl_up(w, off);
          if (lane >= off) w = op(t, w);
        }
        sh[lane] = w;
      }
      __syncthreads();
      if (wid > 0) v = op(sh[wid - 1], v);
      v = op(carry, v);
      if (j < L) out[pos] = Cvt<O>::from(v);
      const A total = op(carry, sh[nw - 1]);
      __syncthreads();
      carry = total;
    }
  }
}

#define SCAN_KERNEL(NAME, OP, REV, DT, A, O)                                                \
  extern "C" __global__ void NAME##_##DT(O* out, const ag_t_##DT* x, long long rows, long long L, \
                                         long long inner) {                                  \
    scan_run<OP, REV, ag_t_##DT, A, O>(out, x, rows, L, inner);                               \
  }
#define SCAN_ALL(NAME, OP, REV)                                                             \
  SCAN_KERNEL(NAME, OP, REV, float16, float, ag_float16)                                    \
  SCAN_KERNEL(NAME, OP, REV, float32, float, float)                                         \
  SCAN_KERNEL(NAME, OP, REV, float64, double, double)                                       \
  SCAN_KERNEL(NAME, OP, REV, int32, long long, long long)                                   \
  SCAN_KERNEL(NAME, OP, REV, int64, long long, long long)                                   \
  SCAN_KERNEL(NAME, OP, REV, bool, long long, long long)

SCAN_ALL(cumsum_fwd, AddS, false)
SCAN_ALL(cumprod_fwd, MulS, false)
SCAN_ALL(cumsum_bwd, AddS, true)
SCAN_KERNEL(logcumsumexp_fwd, LogAddS, false, float16, float, ag_float16)
SCAN_KERNEL(logcumsumexp_fwd, LogAddS, false, float32, float, float)
SCAN_KERNEL(logcumsumexp_fwd, LogAddS, false, float64, double, double)

// cummax / cummin: PyTorch's rule, ``x >= best || isnan(x)`` replaces (ties move the index to the
// LAST occurrence; a NaN wins and each later NaN takes the index). Values are copied, not converted.
template <bool IsMax, typename T>
__device__ void cum_extreme_run(T* vals, long long* idx, const T* x, long long rows, long long L, long long inner) {
  typedef typename Compute<T>::type A;
  for (long long row = ag_tid(); row < rows; row += ag_nthreads()) {
    const long long o = row / inner, in = row % inner;
    const long long base = o * L * inner + in;
    T best_raw = x[base];
    A best = Cvt<A>::from(best_raw);
    long long bi = 0;
    for (long long j = 0; j < L; ++j) {
      const long long pos = base + j * inner;
      const T raw = x[pos];
      const A w = Cvt<A>::from(raw);
      if (ag_isnan(w) || (!ag_isnan(best) && (IsMax ? w >= best : w <= best))) {
        best = w;
        best_raw = raw;
        bi = j;
      }
      vals[pos] = best_raw;
      idx[pos] = bi;
    }
  }
}

#define CUM_EXTREME_KERNEL(NAME, ISMAX, DT)                                                    \
  extern "C" __global__ void NAME##_##DT(ag_t_##DT* vals, long long* idx, const ag_t_##DT* x,   \
                                         long long rows, long long L, long long inner) {        \
    cum_extreme_run<ISMAX, ag_t_##DT>(vals, idx, x, rows, L, inner);                           \
  }
#define CUMMAX(DT) CUM_EXTREME_KERNEL(cummax_fwd, true, DT)
#define CUMMIN(DT) CUM_EXTREME_KERNEL(cummin_fwd, false, DT)
AG_FOR_AB(CUMMAX)
AG_FOR_AB(CUMMIN)
