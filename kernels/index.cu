// Index kernels. Every kernel of the table in KERNELS.md has the signature
//   <op>_<dtype>(T* out, const T* x, const long long* index, const T* src, IdxParams p,
//                long long* err, int wrap)
// (unused pointers are null). p.shape is the iteration shape; p.st[0..2] the element
// strides of the operands named per kernel below; out is always C-contiguous.
//
// Bounds are checked here, on the device: an index outside [0, p.axis_size) (with `wrap`,
// [-p.axis_size, p.axis_size), negatives counting from the end) is never dereferenced; the
// first such index is recorded in err[0..1] = {1, index} when err is not null. The launcher
// (backends/cuda_index.py) reads those 16 bytes once, after the launch, and raises.
// The accumulate variants use atomics: atomicAdd for sums; a compare-and-swap loop for
// prod/amax/amin (32-bit words for float16/float32/int32, 64-bit for float64/int64).
#include "common.cuh"

// the index to use, or -1 (recorded in err) when it is out of range
__device__ __forceinline__ long long idx_fix(long long i, long long size, long long* err, int wrap) {
  const long long k = (wrap && i < 0) ? i + size : i;
  if (k >= 0 && k < size) return k;
  if (err != nullptr && atomicCAS((unsigned long long*)err, 0ULL, 1ULL) == 0ULL) err[1] = i;
  return -1;
}

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

// ---------------------------------------------------------------------------------
// read-modify-write of one element with a compare-and-swap loop: *p = f(*p)
template <typename T> struct IdxWord;   // the CAS word of T
template <> struct IdxWord<float> { typedef unsigned int U; };
template <> struct IdxWord<int> { typedef unsigned int U; };
template <> struct IdxWord<double> { typedef unsigned long long U; };
template <> struct IdxWord<long long> { typedef unsigned long long U; };

template <typename T, typename F> __device__ __forceinline__ void idx_atomic_update(T* p, F f) {
  typedef typename IdxWord<T>::U U;
  union Pun { T t; U u; };
  U* w = (U*)p;
  U old = *w, assumed;
  do {
    assumed = old;
    Pun cur, nxt;
    cur.u = assumed;
    nxt.t = f(cur.t);
    if (nxt.u == assumed) return;         // unchanged (a max that does not win): no write
    old = atomicCAS(w, assumed, nxt.u);
  } while (assumed != old);
}

template <typename F> __device__ __forceinline__ void idx_atomic_update(ag_float16* p, F f) {
  ag_atomic_update_half(p, f);
}

// scatter_reduce's reductions (p.accumulate: 0 sum, 1 prod, 2 amax, 3 amin); NaN wins amax/amin
enum { IDX_SUM = 0, IDX_PROD = 1, IDX_AMAX = 2, IDX_AMIN = 3 };

template <typename C> struct IdxProd {
  C v;
  __device__ __forceinline__ C operator()(C a) const { return a * v; }
};
template <typename C> struct IdxMax {
  C v;
  __device__ __forceinline__ C operator()(C a) const { return (ag_isnan(v) || v > a) ? v : a; }
};
template <typename C> struct IdxMin {
  C v;
  __device__ __forceinline__ C operator()(C a) const { return (ag_isnan(v) || v < a) ? v : a; }
};

template <typename T> __device__ __forceinline__ void idx_reduce(T* dst, T v, int op) {
  typedef typename Compute<T>::type C;
  const C c = Cvt<C>::from(v);
  if (op == IDX_SUM) ag_atomic_add(dst, c);
  else if (op == IDX_PROD) idx_atomic_update(dst, IdxProd<C>{c});
  else if (op == IDX_AMAX) idx_atomic_update(dst, IdxMax<C>{c});
  else idx_atomic_update(dst, IdxMin<C>{c});
}
// bool: sum and amax are "or", prod and amin are "and"; racing writers store the same value
template <> __device__ __forceinline__ void idx_reduce<bool>(bool* dst, bool v, int op) {
  if (op == IDX_SUM || op == IDX_AMAX) { if (v) *dst = true; }
  else if (!v) *dst = false;
}

// ---------------------------------------------------------------------------------
// gather: iteration over index's shape; st[0] x, st[1] index; out[t] = x[.., index[t], ..]
template <typename T>
__device__ void gather_run(T* out, const T* x, const long long* index, const IdxParams& p, long long* err,
                           int wrap) {
  long long off[3], ax;
  for (long long t = ag_tid(); t < p.n; t += ag_nthreads()) {
    idx_offsets(t, p, p.axis, off, &ax);
    const long long k = idx_fix(index[off[1] + ax * p.st[1][p.axis]], p.axis_size, err, wrap);
    if (k >= 0) out[t] = x[off[0] + k * p.st[0][p.axis]];
  }
}

// scatter (Op < 0: plain store) / scatter_add (IDX_SUM) / scatter_reduce (Op = p.accumulate):
// iteration over index's shape; st[0] out, st[1] index, st[2] src
template <int Op, typename T>
__device__ void scatter_run(T* out, const long long* index, const T* src, const IdxParams& p, long long* err,
                            int wrap) {
  long long off[3], ax;
  const int op = Op == 99 ? p.accumulate : Op;
  for (long long t = ag_tid(); t < p.n; t += ag_nthreads()) {
    idx_offsets(t, p, p.axis, off, &ax);
    const long long k = idx_fix(index[off[1] + ax * p.st[1][p.axis]], p.axis_size, err, wrap);
    if (k < 0) continue;
    const T v = idx_src(src, off[2] + ax * p.st[2][p.axis], p);
    T* dst = out + off[0] + k * p.st[0][p.axis];
    if (op < 0) *dst = v;
    else idx_reduce(dst, v, op);
  }
}

// index_select: iteration over out's shape; st[0] x; index contiguous 1-D
template <typename T>
__device__ void index_select_run(T* out, const T* x, const long long* index, const IdxParams& p, long long* err,
                                 int wrap) {
  long long off[3], ax;
  for (long long t = ag_tid(); t < p.n; t += ag_nthreads()) {
    idx_offsets(t, p, p.axis, off, &ax);
    const long long k = idx_fix(index[ax], p.axis_size, err, wrap);
    if (k >= 0) out[t] = x[off[0] + k * p.st[0][p.axis]];
  }
}

// index_add (Add) / index_copy: iteration over src's shape (a scalar src: p.src_scalar, index_fill,
// iterating over the selected slices); st[0] out, st[2] src; index contiguous 1-D
template <bool Add, typename T>
__device__ void index_put_run(T* out, const long long* index, const T* src, const IdxParams& p, long long* err,
                              int wrap) {
  typedef typename Compute<T>::type C;
  long long off[3], ax;
  for (long long t = ag_tid(); t < p.n; t += ag_nthreads()) {
    idx_offsets(t, p, p.axis, off, &ax);
    const long long k = idx_fix(index[ax], p.axis_size, err, wrap);
    if (k < 0) continue;
    const T v = idx_src(src, off[2] + ax * p.st[2][p.axis], p);
    T* dst = out + off[0] + k * p.st[0][p.axis];
    if (Add) ag_atomic_add(dst, Cvt<C>::from(v));
    else *dst = v;
  }
}

// take: p.shape/st[0] describe x (collapsed); index contiguous, p.n of them
template <typename T>
__device__ void take_run(T* out, const T* x, const long long* index, const IdxParams& p, long long* err, int wrap) {
  for (long long t = ag_tid(); t < p.n; t += ag_nthreads()) {
    long long f = idx_fix(index[t], p.axis_size, err, wrap), xo = 0;
    if (f < 0) continue;
    for (int d = p.ndim - 1; d >= 0; --d) {
      const long long s = p.shape[d];
      xo += (f % s) * p.st[0][d];
      f /= s;
    }
    out[t] = x[xo];
  }
}

// put: out contiguous copy of x (p.axis_size elements); index and src contiguous
template <typename T>
__device__ void put_run(T* out, const long long* index, const T* src, const IdxParams& p, long long* err, int wrap) {
  typedef typename Compute<T>::type C;
  for (long long t = ag_tid(); t < p.n; t += ag_nthreads()) {
    const long long f = idx_fix(index[t], p.axis_size, err, wrap);
    if (f < 0) continue;
    const T v = idx_src(src, t, p);
    if (p.accumulate) ag_atomic_add(out + f, Cvt<C>::from(v));
    else out[f] = v;
  }
}

#define IDX_SIG(NAME, DT)                                                                              \
  extern "C" __global__ void NAME##_##DT(ag_t_##DT* out, const ag_t_##DT* x, const long long* index, \
                                         const ag_t_##DT* src, const IdxParams p, long long* err,      \
                                         const int wrap)
#define IDX_PLAIN(DT)                                                                        \
  IDX_SIG(gather_fwd, DT) { gather_run(out, x, index, p, err, wrap); }                       \
  IDX_SIG(scatter_fwd, DT) { scatter_run<-1>(out, index, src, p, err, wrap); }               \
  IDX_SIG(index_select_fwd, DT) { index_select_run(out, x, index, p, err, wrap); }           \
  IDX_SIG(take_fwd, DT) { take_run(out, x, index, p, err, wrap); }                           \
  IDX_SIG(put_fwd, DT) { put_run(out, index, src, p, err, wrap); }                           \
  IDX_SIG(index_copy_fwd, DT) { index_put_run<false>(out, index, src, p, err, wrap); }
#define IDX_ACC(DT)                                                                          \
  IDX_SIG(scatter_add_fwd, DT) { scatter_run<IDX_SUM>(out, index, src, p, err, wrap); }      \
  IDX_SIG(scatter_reduce_fwd, DT) { scatter_run<99>(out, index, src, p, err, wrap); }        \
  IDX_SIG(index_add_fwd, DT) { index_put_run<true>(out, index, src, p, err, wrap); }

AG_FOR_AB(IDX_PLAIN)
AG_FOR_AB(IDX_ACC)

// ---------------------------------------------------------------------------------
// scatter_reduce(mean): counts per destination (iteration over index's shape; st[0] count,
// st[1] index; count C-contiguous of out's shape), then out /= max(count, 1), integers by floor
// division as PyTorch. Bad indices are skipped (the reduce launch recorded them).
extern "C" __global__ void scatter_count_int32(int* count, const long long* index, const IdxParams p) {
  long long off[3], ax;
  for (long long t = ag_tid(); t < p.n; t += ag_nthreads()) {
    idx_offsets(t, p, p.axis, off, &ax);
    const long long k = idx_fix(index[off[1] + ax * p.st[1][p.axis]], p.axis_size, nullptr, 0);
    if (k >= 0) atomicAdd(count + off[0] + k * p.st[0][p.axis], 1);
  }
}

template <typename T> __device__ __forceinline__ T idx_mean(T s, int c) { return s / (T)c; }
template <> __device__ __forceinline__ int idx_mean<int>(int s, int c) {
  const int q = s / c;
  return (s % c != 0 && s < 0) ? q - 1 : q;
}
template <> __device__ __forceinline__ long long idx_mean<long long>(long long s, int c) {
  const long long q = s / c;
  return (s % c != 0 && s < 0) ? q - 1 : q;
}

#define IDX_MEAN(DT)                                                                                         \
  extern "C" __global__ void scatter_mean_##DT(ag_t_##DT* out, const int* count, const long long n) {        \
    typedef Compute<ag_t_##DT>::type C;                                                                      \
    for (long long t = ag_tid(); t < n; t += ag_nthreads()) {                                                \
      const int c = count[t];                                                                                \
      if (c > 1) out[t] = Cvt<ag_t_##DT>::from(idx_mean<C>(Cvt<C>::from(out[t]), c));                        \
    }                                                                                                        \
  }
AG_FOR_A(IDX_MEAN)
