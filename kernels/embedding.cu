// Embedding: a row gather forward and a scatter-add backward over a (num, dim) weight.
//
// embedding_fwd_<F>(T* out, const T* w, const long long* idx, long long n, long long dim,
//                   long long num, long long* err)
//   out[i, :] = w[idx[i], :] for the n indices; an index outside [0, num) is never read: its row
//   is zero and the first one seen goes to err = {1, index} (null err: no recording).
// embedding_bwd_<F>(Acc* gw, const T* g, const long long* idx, const int* count, long long n,
//                   long long dim, long long padding_idx)
//   gw[idx[i], :] += g[i, :] / count[idx[i]] (count null: 1), skipping idx[i] == padding_idx.
//   atomicAdd into gw of the accumulation type: float for float16 (the launcher casts the result
//   back, so no half atomics and no float16 rounding per add), the dtype itself otherwise.
// One thread per element of the (n, dim) grid, dim fastest: neighbouring threads touch
// neighbouring columns of the same row, so reads and atomics coalesce.
#include "common.cuh"

template <typename T>
__device__ void embedding_fwd_run(T* out, const T* w, const long long* idx, long long n, long long dim,
                                  long long num, long long* err) {
  const long long total = n * dim, stride = ag_nthreads();
  for (long long t = ag_tid(); t < total; t += stride) {
    const long long i = t / dim, j = t - i * dim;
    const long long k = idx[i];
    if (k < 0 || k >= num) {
      if (err != nullptr && j == 0 && atomicCAS((unsigned long long*)err, 0ULL, 1ULL) == 0ULL) err[1] = k;
      out[t] = Cvt<T>::from(0.0f);
    } else {
      out[t] = w[k * dim + j];
    }
  }
}

template <typename T, typename Acc>
__device__ void embedding_bwd_run(Acc* gw, const T* g, const long long* idx, const int* count, long long n,
                                  long long dim, long long padding_idx) {
  typedef typename Compute<T>::type A;
  const long long total = n * dim, stride = ag_nthreads();
  for (long long t = ag_tid(); t < total; t += stride) {
    const long long i = t / dim, j = t - i * dim;
    const long long k = idx[i];
    if (k == padding_idx) continue;
    A v = Cvt<A>::from(g[t]);
    if (count != nullptr) v = v / (A)(count[k] > 0 ? count[k] : 1);
    ag_atomic_add(gw + k * dim + j, (Acc)v);
  }
}

#define EMBEDDING_KERNELS(DT, ACC)                                                                       \
  extern "C" __global__ void embedding_fwd_##DT(ag_t_##DT* out, const ag_t_##DT* w, const long long* idx, \
                                                long long n, long long dim, long long num,               \
                                                long long* err) {                                        \
    embedding_fwd_run(out, w, idx, n, dim, num, err);                                                   \
  }                                                                                                      \
  extern "C" __global__ void embedding_bwd_##DT(ACC* gw, const ag_t_##DT* g, const long long* idx,        \
                                                const int* count, long long n, long long dim,              \
                                                long long padding_idx) {                                 \
    embedding_bwd_run(gw, g, idx, count, n, dim, padding_idx);                                          \
  }

// float16 accumulates into a float32 gradient (the launcher casts back): no half atomics
EMBEDDING_KERNELS(float16, float)
EMBEDDING_KERNELS(float32, float)
EMBEDDING_KERNELS(float64, double)

// embedding_count_int32(int* count, const long long* idx, long long n, long long num): count[k] += 1 for
// each idx[i] == k in [0, num) (scale_grad_by_freq's counts; count starts zeroed).
extern "C" __global__ void embedding_count_int32(int* count, const long long* idx, long long n, long long num) {
  for (long long i = ag_tid(); i < n; i += ag_nthreads()) {
    const long long k = idx[i];
    if (k >= 0 && k < num) atomicAdd(count + k, 1);
  }
}

// embedding_row_factor_<F>(T* f, const long long* idx, const int* count, long long n, long long padding_idx):
// f[i] = idx[i] == padding_idx ? 0 : 1 / count[idx[i]] (count null: 1): the per-row factors the
// backward applied, for the double backward's lookup.
template <typename T>
__device__ void embedding_row_factor_run(T* f, const long long* idx, const int* count, long long n,
                                         long long padding_idx) {
  typedef typename Compute<T>::type A;
  for (long long i = ag_tid(); i < n; i += ag_nthreads()) {
    const long long k = idx[i];
    A v = k == padding_idx ? A(0) : A(1);
    if (count != nullptr && k != padding_idx) v = v / (A)(count[k] > 0 ? count[k] : 1);
    f[i] = Cvt<T>::from(v);
  }
}
#define EMBEDDING_FACTOR(DT)                                                                              \
  extern "C" __global__ void embedding_row_factor_##DT(ag_t_##DT* f, const long long* idx, const int* count, \
                                                       long long n, long long padding_idx) {              \
    embedding_row_factor_run(f, idx, count, n, padding_idx);                                              \
  }
EMBEDDING_FACTOR(float16)
EMBEDDING_FACTOR(float32)
EMBEDDING_FACTOR(float64)

// one_hot_fwd_int64(long long* out, const long long* idx, long long n, long long classes):
// out[i, c] = idx[i] == c, for (n, classes) out; the op checks the range first.
extern "C" __global__ void one_hot_fwd_int64(long long* out, const long long* idx, long long n, long long classes) {
  const long long total = n * classes;
  for (long long t = ag_tid(); t < total; t += ag_nthreads()) {
    const long long i = t / classes;
    out[t] = idx[i] == t - i * classes ? 1 : 0;
  }
}
