// Reductions over a contiguous input viewed as (outer, R, inner).
//
// <op>_fwd_<dtype>(void* out, const T* x, rows, R, inner, chunk, out_acc)
//   inner == 1 ("rows" mode): one block per virtual row; a row of R elements is
//     split into ceil(R/chunk) chunks (chunk == R: no split) so a large reduction
//     to few outputs still fills the GPU; the launcher reduces the partials with a
//     second launch. rows counts virtual rows = outer * nchunks.
//   inner > 1 ("cols" mode): one thread per (o, i) output, looping over R; loads
//     are coalesced across i. rows = outer * inner.
//   out_acc == 1 writes the accumulator type A (partials) instead of O.
// Block tree reductions with warp shuffles; no atomics.
//
// max_fwd / min_fwd_<dtype>(T* vals, long long* idx, const T* x, rows, R, inner):
// one block per (o, i); first index of the extreme; NaN wins.
#include "common.cuh"

struct SumR {
  template <typename A> __device__ __forceinline__ A operator()(A x, A y) const { return x + y; }
  template <typename A> __device__ __forceinline__ static A ident() { return A(0); }
};
struct ProdR {
  template <typename A> __device__ __forceinline__ A operator()(A x, A y) const { return x * y; }
  template <typename A> __device__ __forceinline__ static A ident() { return A(1); }
};
struct MaxR {
  template <typename A> __device__ __forceinline__ A operator()(A x, A y) const {
    return ag_isnan(x) ? x : (ag_isnan(y) ? y : (x > y ? x : y));
  }
  template <typename A> __device__ __forceinline__ static A ident() { return Lim<A>::lowest(); }
};
struct MinR {
  template <typename A> __device__ __forceinline__ A operator()(A x, A y) const {
    return ag_isnan(x) ? x : (ag_isnan(y) ? y : (x < y ? x : y));
  }
  template <typename A> __device__ __forceinline__ static A ident() { return Lim<A>::highest(); }
};

template <typename Op, typename T, typename A, typename O>
__device__ void reduce_run(void* out_, const T* x, long long rows, long long R, long long inner,
                           long long chunk, int out_acc) {
  const Op op;
  const A ident = Op::template ident<A>();
  if (inner == 1) {
    const long long nchunks = chunk > 0 ? (R + chunk - 1) / chunk : 1;
    for (long long vr = blockIdx.x; vr < rows; vr += gridDim.x) {
      const long long row = vr / nchunks, c = vr % nchunks;
      const long long lo = c * chunk, hi = (lo + chunk < R) ? lo + chunk : R;
      const T* xr = x + row * R;
      A acc = ident;
      for (long long j = lo + threadIdx.x; j < hi; j += blockDim.x) acc = op(acc, Cvt<A>::from(xr[j]));
      acc = ag_block_reduce(acc, op, ident);
      if (threadIdx.x == 0) {
        if (out_acc) ((A*)out_)[vr] = acc;
        else ((O*)out_)[vr] = Cvt<O>::from(acc);
      }
    }
  } else {
    for (long long t = ag_tid(); t < rows; t += ag_nthreads()) {
      const long long o = t / inner, i = t % inner;
      const T* xr = x + o * R * inner + i;
      A acc = ident;
      for (long long r = 0; r < R; ++r) acc = op(acc, Cvt<A>::from(xr[r * inner]));
      if (out_acc) ((A*)out_)[t] = acc;
      else ((O*)out_)[t] = Cvt<O>::from(acc);
    }
  }
}

#define RED_KERNEL(NAME, OP, DT, A, O)                                                     \
  extern "C" __global__ void NAME##_##DT(void* out, const ag_t_##DT* x, long long rows,      \
                                         long long R, long long inner, long long chunk,      \
                                         int out_acc) {                                      \
    reduce_run<OP, ag_t_##DT, A, O>(out, x, rows, R, inner, chunk, out_acc);                 \
  }

// sum / prod: float16 accumulates in float; integers and bool give int64
#define SUMPROD(NAME, OP)                                                                  \
  RED_KERNEL(NAME, OP, float16, float, ag_float16)                                         \
  RED_KERNEL(NAME, OP, float32, float, float)                                              \
  RED_KERNEL(NAME, OP, float64, double, double)                                            \
  RED_KERNEL(NAME, OP, int32, long long, long long)                                        \
  RED_KERNEL(NAME, OP, int64, long long, long long)                                        \
  RED_KERNEL(NAME, OP, bool, long long, long long)
// amax / amin keep the dtype
#define MINMAX(NAME, OP)                                                                   \
  RED_KERNEL(NAME, OP, float16, float, ag_float16)                                         \
  RED_KERNEL(NAME, OP, float32, float, float)                                              \
  RED_KERNEL(NAME, OP, float64, double, double)                                            \
  RED_KERNEL(NAME, OP, int32, int, int)                                                    \
  RED_KERNEL(NAME, OP, int64, long long, long long)                                        \
  RED_KERNEL(NAME, OP, bool, bool, bool)

SUMPROD(sum_fwd, SumR)
SUMPROD(prod_fwd, ProdR)
MINMAX(amax_fwd, MaxR)
MINMAX(amin_fwd, MinR)

// ---------------------------------------------------------------------------------
// arg reductions
template <bool IsMax, typename A>
__device__ __forceinline__ bool arg_better(A v, long long i, A w, long long j) {
  // should (w, j) replace (v, i)?
  const bool vn = ag_isnan(v), wn = ag_isnan(w);
  if (vn || wn) return wn && (!vn || j < i);
  if (IsMax ? (w > v) : (w < v)) return true;
  return w == v && j < i;
}

template <bool IsMax, typename T>
__device__ void arg_run(T* vals, long long* idx, const T* x, long long rows, long long R, long long inner) {
  typedef typename Compute<T>::type A;
  __shared__ A sv[32];
  __shared__ long long si[32];
  const int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
  const A init = IsMax ? Lim<A>::lowest() : Lim<A>::highest();
  const long long NONE = Lim<long long>::highest();
  for (long long row = blockIdx.x; row < rows; row += gridDim.x) {
    const long long o = row / inner, in = row % inner;
    const T* xr = x + o * R * inner + in;
    A v = init;
    long long i = NONE;
    for (long long j = threadIdx.x; j < R; j += blockDim.x) {
      const A w = Cvt<A>::from(xr[j * inner]);
      if (arg_better<IsMax>(v, i, w, j)) { v = w; i = j; }
    }
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) {
      const A w = ag_shfl_down(v, off);
      const long long j = ag_shfl_down(i, off);
      if (arg_better<IsMax>(v, i, w, j)) { v = w; i = j; }
    }
    __syncthreads();
    if (lane == 0) { sv[wid] = v; si[wid] = i; }
    __syncthreads();
    if (wid == 0) {
      v = lane < nw ? sv[lane] : init;
      i = lane < nw ? si[lane] : NONE;
#pragma unroll
      for (int off = 16; off > 0; off >>= 1) {
        const A w = ag_shfl_down(v, off);
        const long long j = ag_shfl_down(i, off);
        if (arg_better<IsMax>(v, i, w, j)) { v = w; i = j; }
      }
      if (lane == 0) {
        if (i == NONE) {                // R == 0: nothing to point at
          idx[row] = 0;
          vals[row] = Cvt<T>::from(init);
        } else {
          idx[row] = i;
          vals[row] = xr[i * inner];
        }
      }
    }
  }
}

#define ARG_KERNEL(NAME, ISMAX, DT)                                                         \
  extern "C" __global__ void NAME##_##DT(ag_t_##DT* vals, long long* idx, const ag_t_##DT* x,  \
                                         long long rows, long long R, long long inner) {       \
    arg_run<ISMAX, ag_t_##DT>(vals, idx, x, rows, R, inner);                                  \
  }
#define ARG_MAX(DT) ARG_KERNEL(max_fwd, true, DT)
#define ARG_MIN(DT) ARG_KERNEL(min_fwd, false, DT)
AG_FOR_AB(ARG_MAX)
AG_FOR_AB(ARG_MIN)
