// Index kernels. Every kernel has the signature
//   <op>_<dtype>(T* out, const T* x, const long long* index, const T* src, IdxParams p)
// (unused pointers are null). p.shape is the iteration shape; p.st[0..2] the element
// strides of the operands named per kernel below; out is always C-contiguous.
// Bounds are validated by the ops on the host; negative indices wrap by p.axis_size.
// The accumulate variants use atomics (float16 through a 32-bit CAS).
#include "common.cuh"

__device__ __forceinline__ long long idx_wrap(long long i, long long size) { return i < 0 ? i + size : i; }

template <typename T> __device__ __forceinline__ T idx_src(const T* src, long long off, const IdxParams& p) {
  typedef typename Compute<T>::type C;
  if (p.src_scalar) return Cvt<T>::from(Scalar<C>::get(p.fsrc, p.isrc));
  return src[off];
}

// coordinates of linear iteration index t: offsets of the 3 operands, skipping `skip`
// for all operands (its coordinate is returned in *ax)
__device__ __forceinline__ void idx_offsets(long long t, const IdxParams& p, int skip, long long* off,
                                            long long* ax) {
  off[0] = off[1] = off[2] = 0;
  *ax = 0;
  for (int d = p.ndim - 1; d >= 0; --d) {
    const long long s = p.shape[d];
    const long long c = t % s;
    t /= s;
    if (d == skip) { *ax = c; continue; }
    off[0] += c * p.st[0][d];
    off[1] += c * p.st[1][d];
    off[2] += c * p.st[2][d];
  }
}

// gather: iteration over index's shape; st[0] x, st[1] index; out[t] = x[.., index[t], ..]
template <typename T> __device__ void gather_run(T* out, const T* x, const long long* index, const IdxParams& p) {
  long long off[3], ax;
  for (long long t = ag_tid(); t < p.n; t += ag_nthreads()) {
    idx_offsets(t, p, p.axis, off, &ax);
    const long long io = off[1] + ax * p.st[1][p.axis];
    const long long k = idx_wrap(index[io], p.axis_size);
    out[t] = x[off[0] + k * p.st[0][p.axis]];
  }
}

// scatter / scatter_add: iteration over index's shape; st[0] out, st[1] index, st[2] src
template <bool Add, typename T>
__device__ void scatter_run(T* out, const long long* index, const T* src, const IdxParams& p) {
  typedef typename Compute<T>::type C;
  long long off[3], ax;
  for (long long t = ag_tid(); t < p.n; t += ag_nthreads()) {
    idx_offsets(t, p, p.axis, off, &ax);
    const long long k = idx_wrap(index[off[1] + ax * p.st[1][p.axis]], p.axis_size);
    const T v = idx_src(src, off[2] + ax * p.st[2][p.axis], p);
    T* dst = out + off[0] + k * p.st[0][p.axis];
    if (Add) ag_atomic_add(dst, Cvt<C>::from(v));
    else *dst = v;
  }
}

// index_select: iteration over out's shape; st[0] x; index contiguous 1-D
template <typename T>
__device__ void index_select_run(T* out, const T* x, const long long* index, const IdxParams& p) {
  long long off[3], ax;
  for (long long t = ag_tid(); t < p.n; t += ag_nthreads()) {
    idx_offsets(t, p, p.axis, off, &ax);
    const long long k = idx_wrap(index[ax], p.axis_size);
    out[t] = x[off[0] + k * p.st[0][p.axis]];
  }
}

// index_add: iteration over src's shape; st[0] out, st[2] src; index contiguous 1-D
template <typename T>
__device__ void index_add_run(T* out, const long long* index, const T* src, const IdxParams& p) {
  typedef typename Compute<T>::type C;
  long long off[3], ax;
  for (long long t = ag_tid(); t < p.n; t += ag_nthreads()) {
    idx_offsets(t, p, p.axis, off, &ax);
    const long long k = idx_wrap(index[ax], p.axis_size);
    const T v = idx_src(src, off[2] + ax * p.st[2][p.axis], p);
    ag_atomic_add(out + off[0] + k * p.st[0][p.axis], Cvt<C>::from(v));
  }
}

// take: p.shape/st[0] describe x (collapsed); index contiguous, p.n of them
template <typename T> __device__ void take_run(T* out, const T* x, const long long* index, const IdxParams& p) {
  for (long long t = ag_tid(); t < p.n; t += ag_nthreads()) {
    long long f = idx_wrap(index[t], p.axis_size), xo = 0;
    for (int d = p.ndim - 1; d >= 0; --d) {
      const long long s = p.shape[d];
      xo += (f % s) * p.st[0][d];
      f /= s;
    }
    out[t] = x[xo];
  }
}

// put: out contiguous copy of x (p.axis_size elements); index and src contiguous
template <typename T> __device__ void put_run(T* out, const long long* index, const T* src, const IdxParams& p) {
  typedef typename Compute<T>::type C;
  for (long long t = ag_tid(); t < p.n; t += ag_nthreads()) {
    const long long f = idx_wrap(index[t], p.axis_size);
    const T v = idx_src(src, t, p);
    if (p.accumulate) ag_atomic_add(out + f, Cvt<C>::from(v));
    else out[f] = v;
  }
}

#define IDX_SIG(NAME, DT) \
  extern "C" __global__ void NAME##_##DT(ag_t_##DT* out, const ag_t_##DT* x, const long long* index, \
                                         const ag_t_##DT* src, const IdxParams p)
#define IDX_PLAIN(DT)                                                                      \
  IDX_SIG(gather_fwd, DT) { gather_run(out, x, index, p); }                                \
  IDX_SIG(scatter_fwd, DT) { scatter_run<false>(out, index, src, p); }                     \
  IDX_SIG(index_select_fwd, DT) { index_select_run(out, x, index, p); }                    \
  IDX_SIG(take_fwd, DT) { take_run(out, x, index, p); }                                    \
  IDX_SIG(put_fwd, DT) { put_run(out, index, src, p); }
#define IDX_ACC(DT)                                                                        \
  IDX_SIG(scatter_add_fwd, DT) { scatter_run<true>(out, index, src, p); }                  \
  IDX_SIG(index_add_fwd, DT) { index_add_run(out, index, src, p); }

AG_FOR_AB(IDX_PLAIN)
AG_FOR_AB(IDX_ACC)
