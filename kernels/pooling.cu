// Pooling on contiguous (B, D, H, W) planes (1-d and 2-d pooling arrive with leading size-1 axes).
// Indices are flat positions within one input plane (d*H*W + h*W + w), as PyTorch saves them.
// Grid-stride loops, one thread per output (forward) or per input element (backward: it gathers
// from the outputs whose window covers it, so no atomics); float16 computes in float.
#include "common.cuh"

struct PoolParams {       // 176 bytes; cuda_pooling.pool_params packs it
  long long B, cip, divisor, pad_;
  long long in[3], out[3], k[3], s[3], p[3], d[3];
};

__device__ __forceinline__ void unflat3(long long i, const long long* n, long long* c) {
  c[2] = i % n[2]; i /= n[2];
  c[1] = i % n[1]; i /= n[1];
  c[0] = i % n[0];
}

// max pool: PyTorch's rule (val > max || isnan(val)); the first in-bounds element starts the max
template <typename T>
__device__ void max_pool_fwd_run(T* out, long long* idx, const T* x, const PoolParams& P) {
  typedef typename Compute<T>::type A;
  const long long L = P.in[0] * P.in[1] * P.in[2], O = P.out[0] * P.out[1] * P.out[2];
  for (long long i = ag_tid(); i < P.B * O; i += ag_nthreads()) {
    const long long b = i / O;
    long long o[3];
    unflat3(i % O, P.out, o);
    const T* xb = x + b * L;
    A best = A(0);
    long long bi = -1;
    for (long long a = 0; a < P.k[0]; ++a) {
      const long long z = o[0] * P.s[0] - P.p[0] + a * P.d[0];
      if (z < 0 || z >= P.in[0]) continue;
      for (long long c = 0; c < P.k[1]; ++c) {
        const long long y = o[1] * P.s[1] - P.p[1] + c * P.d[1];
        if (y < 0 || y >= P.in[1]) continue;
        for (long long e = 0; e < P.k[2]; ++e) {
          const long long w = o[2] * P.s[2] - P.p[2] + e * P.d[2];
          if (w < 0 || w >= P.in[2]) continue;
          const long long f = (z * P.in[1] + y) * P.in[2] + w;
          const A v = Cvt<A>::from(xb[f]);
          if (bi < 0 || v > best || ag_isnan(v)) { best = v; bi = f; }
        }
      }
    }
    out[i] = Cvt<T>::from(best);
    idx[i] = bi;
  }
}

// the outputs whose window (start o*s - p, taps every d, k of them) may cover position x
__device__ __forceinline__ void covering(long long x, long long k, long long s, long long p, long long d,
                                         long long n_out, long long* lo, long long* hi) {
  const long long ext = (k - 1) * d + 1;
  *lo = (x + p < ext) ? 0 : (x + p - ext) / s + 1;
  *hi = (x + p) / s + 1;
  if (*hi > n_out) *hi = n_out;
}

template <typename T>
__device__ void max_pool_bwd_run(T* gx, const T* g, const long long* idx, const PoolParams& P) {
  typedef typename Compute<T>::type A;
  const long long L = P.in[0] * P.in[1] * P.in[2], O = P.out[0] * P.out[1] * P.out[2];
  for (long long i = ag_tid(); i < P.B * L; i += ag_nthreads()) {
    const long long b = i / L, f = i % L;
    long long c[3], lo[3], hi[3];
    unflat3(f, P.in, c);
    for (int a = 0; a < 3; ++a) covering(c[a], P.k[a], P.s[a], P.p[a], P.d[a], P.out[a], &lo[a], &hi[a]);
    A acc = A(0);
    for (long long z = lo[0]; z < hi[0]; ++z)
      for (long long y = lo[1]; y < hi[1]; ++y)
        for (long long w = lo[2]; w < hi[2]; ++w) {
          const long long j = b * O + (z * P.out[1] + y) * P.out[2] + w;
          if (idx[j] == f) acc += Cvt<A>::from(g[j]);
        }
    gx[i] = Cvt<T>::from(acc);
  }
}

// avg pool divisor of output o (PyTorch's): window clipped to the padded input, or to the input
__device__ __forceinline__ long long avg_divisor(const long long* o, const PoolParams& P) {
  if (P.divisor) return P.divisor;
  long long n = 1;
  for (int a = 0; a < 3; ++a) {
    long long st = o[a] * P.s[a] - P.p[a], en = st + P.k[a];
    if (en > P.in[a] + P.p[a]) en = P.in[a] + P.p[a];
    if (!P.cip) {
      if (st < 0) st = 0;
      if (en > P.in[a]) en = P.in[a];
    }
    n *= en - st;
  }
  return n;
}

template <typename T>
__device__ void avg_pool_fwd_run(T* out, const T* x, const PoolParams& P) {
  typedef typename Compute<T>::type A;
  const long long L = P.in[0] * P.in[1] * P.in[2], O = P.out[0] * P.out[1] * P.out[2];
  for (long long i = ag_tid(); i < P.B * O; i += ag_nthreads()) {
    const long long b = i / O;
    long long o[3], st[3], en[3];
    unflat3(i % O, P.out, o);
    for (int a = 0; a < 3; ++a) {
      st[a] = o[a] * P.s[a] - P.p[a];
      en[a] = st[a] + P.k[a];
      if (st[a] < 0) st[a] = 0;
      if (en[a] > P.in[a]) en[a] = P.in[a];
    }
    A acc = A(0);
    const T* xb = x + b * L;
    for (long long z = st[0]; z < en[0]; ++z)
      for (long long y = st[1]; y < en[1]; ++y)
        for (long long w = st[2]; w < en[2]; ++w) acc += Cvt<A>::from(xb[(z * P.in[1] + y) * P.in[2] + w]);
    out[i] = Cvt<T>::from(acc / A(avg_divisor(o, P)));
  }
}

template <typename T>
__device__ void avg_pool_bwd_run(T* gx, const T* g, const PoolParams& P) {
  typedef typename Compute<T>::type A;
  const long long L = P.in[0] * P.in[1] * P.in[2], O = P.out[0] * P.out[1] * P.out[2];
  for (long long i = ag_tid(); i < P.B * L; i += ag_nthreads()) {
    const long long b = i / L;
    long long c[3], lo[3], hi[3], o[3];
    unflat3(i % L, P.in, c);
    for (int a = 0; a < 3; ++a) covering(c[a], P.k[a], P.s[a], P.p[a], 1, P.out[a], &lo[a], &hi[a]);
    A acc = A(0);
    for (o[0] = lo[0]; o[0] < hi[0]; ++o[0])
      for (o[1] = lo[1]; o[1] < hi[1]; ++o[1])
        for (o[2] = lo[2]; o[2] < hi[2]; ++o[2]) {
          const long long j = b * O + (o[0] * P.out[1] + o[1]) * P.out[2] + o[2];
          acc += Cvt<A>::from(g[j]) / A(avg_divisor(o, P));
        }
    gx[i] = Cvt<T>::from(acc);
  }
}

template <typename T>
__device__ void adaptive_max_pool_fwd_run(T* out, long long* idx, const T* x, const PoolParams& P) {
  typedef typename Compute<T>::type A;
  const long long L = P.in[0] * P.in[1] * P.in[2], O = P.out[0] * P.out[1] * P.out[2];
  for (long long i = ag_tid(); i < P.B * O; i += ag_nthreads()) {
    const long long b = i / O;
    long long o[3], st[3], en[3];
    unflat3(i % O, P.out, o);
    for (int a = 0; a < 3; ++a) {
      st[a] = (o[a] * P.in[a]) / P.out[a];
      en[a] = ((o[a] + 1) * P.in[a] + P.out[a] - 1) / P.out[a];
    }
    const T* xb = x + b * L;
    A best = A(0);
    long long bi = -1;
    for (long long z = st[0]; z < en[0]; ++z)
      for (long long y = st[1]; y < en[1]; ++y)
        for (long long w = st[2]; w < en[2]; ++w) {
          const long long f = (z * P.in[1] + y) * P.in[2] + w;
          const A v = Cvt<A>::from(xb[f]);
          if (bi < 0 || v > best || ag_isnan(v)) { best = v; bi = f; }
        }
    out[i] = Cvt<T>::from(best);
    idx[i] = bi;
  }
}

// out[r, j] = x[r, idx[r, j]]: n = rows * Lo outputs, x rows of Li
template <typename T>
__device__ void pool_gather_run(T* out, const T* x, const long long* idx, long long n, long long Li, long long Lo) {
  for (long long i = ag_tid(); i < n; i += ag_nthreads()) {
    const long long j = idx[i];
    out[i] = (j >= 0 && j < Li) ? x[(i / Lo) * Li + j] : Cvt<T>::from(0.0f);
  }
}

// out[r, idx[r, j]] = x[r, j] (Add: +=, atomically): n = rows * Li inputs, out rows of Lo (zeroed)
template <bool Add, typename T>
__device__ void pool_scatter_run(T* out, const T* x, const long long* idx, long long n, long long Li, long long Lo) {
  for (long long i = ag_tid(); i < n; i += ag_nthreads()) {
    const long long j = idx[i];
    if (j < 0 || j >= Lo) continue;
    T* dst = out + (i / Li) * Lo + j;
    if (Add) ag_atomic_add(dst, Cvt<typename Compute<T>::type>::from(x[i]));
    else *dst = x[i];
  }
}

#define POOL_KERNELS(DT)                                                                                   \
  extern "C" __global__ void max_pool_fwd_##DT(ag_t_##DT* out, long long* idx, const ag_t_##DT* x,         \
                                               PoolParams p) { max_pool_fwd_run(out, idx, x, p); }         \
  extern "C" __global__ void max_pool_bwd_##DT(ag_t_##DT* gx, const ag_t_##DT* g, const long long* idx,    \
                                               PoolParams p) { max_pool_bwd_run(gx, g, idx, p); }          \
  extern "C" __global__ void avg_pool_fwd_##DT(ag_t_##DT* out, const ag_t_##DT* x, PoolParams p) {         \
    avg_pool_fwd_run(out, x, p);                                                                          \
  }                                                                                                       \
  extern "C" __global__ void avg_pool_bwd_##DT(ag_t_##DT* gx, const ag_t_##DT* g, PoolParams p) {          \
    avg_pool_bwd_run(gx, g, p);                                                                           \
  }                                                                                                       \
  extern "C" __global__ void adaptive_max_pool_fwd_##DT(ag_t_##DT* out, long long* idx,                    \
                                                        const ag_t_##DT* x, PoolParams p) {                \
    adaptive_max_pool_fwd_run(out, idx, x, p);                                                            \
  }                                                                                                       \
  extern "C" __global__ void pool_gather_fwd_##DT(ag_t_##DT* out, const ag_t_##DT* x, const long long* idx, \
                                                  long long n, long long Li, long long Lo) {              \
    pool_gather_run(out, x, idx, n, Li, Lo);                                                              \
  }                                                                                                       \
  extern "C" __global__ void pool_scatter_fwd_##DT(ag_t_##DT* out, const ag_t_##DT* x,                     \
                                                   const long long* idx, long long n, long long Li,        \
                                                   long long Lo) {                                        \
    pool_scatter_run<false>(out, x, idx, n, Li, Lo);                                                      \
  }                                                                                                       \
  extern "C" __global__ void pool_scatter_add_fwd_##DT(ag_t_##DT* out, const ag_t_##DT* x,                 \
                                                       const long long* idx, long long n, long long Li,    \
                                                       long long Lo) {                                    \
    pool_scatter_run<true>(out, x, idx, n, Li, Lo);                                                       \
  }
AG_FOR_F(POOL_KERNELS)
