// Inclusive scans along one axis of a contiguous input viewed as (outer, L, inner).
//
// <op>_<dtype>(O* out, const T* x, long long rows, long long L, long long inner)
// One block per (o, i) row (rows = outer * inner); the row is scanned in chunks of
// blockDim.x elements (warp shuffles, then one warp over the warp totals) with a
// running carry. cumsum_bwd scans in reverse (the gradient of cumsum).
// float16 accumulates in float; integers and bool give int64 (as PyTorch).
#include "common.cuh"

struct AddS {
  template <typename A> __device__ __forceinline__ A operator()(A x, A y) const { return x + y; }
  template <typename A> __device__ __forceinline__ static A ident() { return A(0); }
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
