// Normalisation layers: layer_norm / rms_norm over rows, batch_norm over channels.
//
// Contiguous inputs. Statistics (mean, rstd / invstd) are stored in the accumulate type A:
// float for float16 and float32, double for float64. Null weight / bias pointers mean none.
//
// layer_norm_fwd_<dt>(y, mean, rstd, x, w, b, M, N, eps, rms)       one block per row of x (M, N)
// layer_norm_bwd_<dt>(dx, g, x, mean, rstd, w, M, N, rms)           one block per row: dx
// layer_norm_bwd_params_<dt>(dw, db, g, x, mean, rstd, M, N)        column sums: 32 columns x 8 row stripes
// batch_norm_fwd_stats_<dt>(mean, var, x, N, C, L)                  one block per channel of x (N, C, L)
// batch_norm_fwd_<dt>(y, x, mean, invstd, w, b, N, C, L)            grid-stride elementwise
// batch_norm_bwd_reduce_<dt>(sg, sgx, g, x, mean, N, C, L)          one block per channel: Σg, Σg(x-mean)
// batch_norm_bwd_<dt>(dx, g, x, mean, invstd, w, sg, sgx, N, C, L, training)
#include "common.cuh"

struct NormSum {
  template <typename A> __device__ __forceinline__ A operator()(A x, A y) const { return x + y; }
};

// ---------------------------------------------------------------------------------
// layer_norm / rms_norm: two passes over the row (it stays in L1/L2), both block reductions
template <typename T>
__device__ void ln_fwd(T* y, typename Compute<T>::type* mean_out, typename Compute<T>::type* rstd_out,
                       const T* x, const T* w, const T* b, long long M, long long N, double eps, int rms) {
  typedef typename Compute<T>::type A;
  for (long long row = blockIdx.x; row < M; row += gridDim.x) {
    const T* xr = x + row * N;
    A m = A(0);
    if (!rms) {
      A s = A(0);
      for (long long j = threadIdx.x; j < N; j += blockDim.x) s += Cvt<A>::from(xr[j]);
      m = ag_block_reduce(s, NormSum(), A(0)) / A(N);
    }
    A q = A(0);
    for (long long j = threadIdx.x; j < N; j += blockDim.x) {
      const A d = Cvt<A>::from(xr[j]) - m;
      q += d * d;
    }
    q = ag_block_reduce(q, NormSum(), A(0));
    const A r = ag_rsqrt(q / A(N) + A(eps));
    if (threadIdx.x == 0) {
      mean_out[row] = m;
      rstd_out[row] = r;
    }
    T* yr = y + row * N;
    for (long long j = threadIdx.x; j < N; j += blockDim.x) {
      A v = (Cvt<A>::from(xr[j]) - m) * r;
      if (w) v *= Cvt<A>::from(w[j]);
      if (b) v += Cvt<A>::from(b[j]);
      yr[j] = Cvt<T>::from(v);
    }
  }
}

// dx = rstd (gy - mean(gy) - xhat mean(gy xhat)), gy = g w (rms: no mean(gy) term)
template <typename T>
__device__ void ln_bwd(T* dx, const T* g, const T* x, const typename Compute<T>::type* mean,
                       const typename Compute<T>::type* rstd, const T* w, long long M, long long N, int rms) {
  typedef typename Compute<T>::type A;
  for (long long row = blockIdx.x; row < M; row += gridDim.x) {
    const T *gr = g + row * N, *xr = x + row * N;
    const A m = mean[row], r = rstd[row];
    A s1 = A(0), s2 = A(0);
    for (long long j = threadIdx.x; j < N; j += blockDim.x) {
      const A gy = Cvt<A>::from(gr[j]) * (w ? Cvt<A>::from(w[j]) : A(1));
      s1 += gy;
      s2 += gy * (Cvt<A>::from(xr[j]) - m) * r;
    }
    s1 = rms ? A(0) : ag_block_reduce(s1, NormSum(), A(0)) / A(N);
    s2 = ag_block_reduce(s2, NormSum(), A(0)) / A(N);
    T* dr = dx + row * N;
    for (long long j = threadIdx.x; j < N; j += blockDim.x) {
      const A gy = Cvt<A>::from(gr[j]) * (w ? Cvt<A>::from(w[j]) : A(1));
      const A xh = (Cvt<A>::from(xr[j]) - m) * r;
      dr[j] = Cvt<T>::from(r * (gy - s1 - xh * s2));
    }
  }
}

// dw[j] = Σ_i g xhat, db[j] = Σ_i g: threadIdx.x walks columns (coalesced), threadIdx.y row stripes
template <typename T>
__device__ void ln_bwd_params(T* dw, T* db, const T* g, const T* x, const typename Compute<T>::type* mean,
                              const typename Compute<T>::type* rstd, long long M, long long N) {
  typedef typename Compute<T>::type A;
  __shared__ A sw[8][33];
  __shared__ A sb[8][33];
  const long long j = (long long)blockIdx.x * 32 + threadIdx.x;
  A aw = A(0), ab = A(0);
  if (j < N) {
    for (long long i = threadIdx.y; i < M; i += 8) {
      const A gv = Cvt<A>::from(g[i * N + j]);
      aw += gv * (Cvt<A>::from(x[i * N + j]) - mean[i]) * rstd[i];
      ab += gv;
    }
  }
  sw[threadIdx.y][threadIdx.x] = aw;
  sb[threadIdx.y][threadIdx.x] = ab;
  __syncthreads();
  if (threadIdx.y == 0 && j < N) {
    for (int k = 1; k < 8; ++k) {
      aw += sw[k][threadIdx.x];
      ab += sb[k][threadIdx.x];
    }
    if (dw) dw[j] = Cvt<T>::from(aw);
    if (db) db[j] = Cvt<T>::from(ab);
  }
}

// ---------------------------------------------------------------------------------
// batch_norm: channel c of x (N, C, L) is N runs of L contiguous elements
template <typename T>
__device__ void bn_stats(typename Compute<T>::type* mean, typename Compute<T>::type* var, const T* x,
                         long long N, long long C, long long L) {
  typedef typename Compute<T>::type A;
  const long long cnt = N * L;
  for (long long c = blockIdx.x; c < C; c += gridDim.x) {
    A s = A(0);
    for (long long k = threadIdx.x; k < cnt; k += blockDim.x) s += Cvt<A>::from(x[(k / L * C + c) * L + k % L]);
    const A m = ag_block_reduce(s, NormSum(), A(0)) / A(cnt);
    A q = A(0);
    for (long long k = threadIdx.x; k < cnt; k += blockDim.x) {
      const A d = Cvt<A>::from(x[(k / L * C + c) * L + k % L]) - m;
      q += d * d;
    }
    q = ag_block_reduce(q, NormSum(), A(0));
    if (threadIdx.x == 0) {
      mean[c] = m;
      var[c] = q / A(cnt);
    }
  }
}

template <typename T>
__device__ void bn_fwd(T* y, const T* x, const typename Compute<T>::type* mean,
                       const typename Compute<T>::type* invstd, const T* w, const T* b, long long N, long long C,
                       long long L) {
  typedef typename Compute<T>::type A;
  const long long n = N * C * L;
  for (long long i = ag_tid(); i < n; i += ag_nthreads()) {
    const long long c = i / L % C;
    A v = (Cvt<A>::from(x[i]) - mean[c]) * invstd[c];
    if (w) v *= Cvt<A>::from(w[c]);
    if (b) v += Cvt<A>::from(b[c]);
    y[i] = Cvt<T>::from(v);
  }
}

template <typename T>
__device__ void bn_bwd_reduce(typename Compute<T>::type* sg, typename Compute<T>::type* sgx, const T* g,
                              const T* x, const typename Compute<T>::type* mean, long long N, long long C,
                              long long L) {
  typedef typename Compute<T>::type A;
  const long long cnt = N * L;
  for (long long c = blockIdx.x; c < C; c += gridDim.x) {
    const A m = mean[c];
    A s1 = A(0), s2 = A(0);
    for (long long k = threadIdx.x; k < cnt; k += blockDim.x) {
      const long long p = (k / L * C + c) * L + k % L;
      const A gv = Cvt<A>::from(g[p]);
      s1 += gv;
      s2 += gv * (Cvt<A>::from(x[p]) - m);
    }
    s1 = ag_block_reduce(s1, NormSum(), A(0));
    s2 = ag_block_reduce(s2, NormSum(), A(0));
    if (threadIdx.x == 0) {
      sg[c] = s1;
      sgx[c] = s2;
    }
  }
}

// training: dx = w invstd (g - Σg/M - (x - mean) invstd² Σg(x-mean)/M); eval: dx = g w invstd
template <typename T>
__device__ void bn_bwd(T* dx, const T* g, const T* x, const typename Compute<T>::type* mean,
                       const typename Compute<T>::type* invstd, const T* w, const typename Compute<T>::type* sg,
                       const typename Compute<T>::type* sgx, long long N, long long C, long long L, int training) {
  typedef typename Compute<T>::type A;
  const long long n = N * C * L;
  const A cnt = A(N * L);
  for (long long i = ag_tid(); i < n; i += ag_nthreads()) {
    const long long c = i / L % C;
    const A is = invstd[c];
    const A scale = w ? is * Cvt<A>::from(w[c]) : is;
    A gv = Cvt<A>::from(g[i]);
    if (training) gv -= sg[c] / cnt + (Cvt<A>::from(x[i]) - mean[c]) * is * is * sgx[c] / cnt;
    dx[i] = Cvt<T>::from(gv * scale);
  }
}

#define NORM_KERNELS(DT)                                                                                \
  typedef Compute<ag_t_##DT>::type ag_a_##DT;                                                         \
  extern "C" __global__ void layer_norm_fwd_##DT(ag_t_##DT* y, ag_a_##DT* mean, ag_a_##DT* rstd,      \
                                                 const ag_t_##DT* x, const ag_t_##DT* w,             \
                                                 const ag_t_##DT* b, long long M, long long N,       \
                                                 double eps, int rms) {                              \
    ln_fwd(y, mean, rstd, x, w, b, M, N, eps, rms);                                                    \
  }                                                                                                    \
  extern "C" __global__ void layer_norm_bwd_##DT(ag_t_##DT* dx, const ag_t_##DT* g, const ag_t_##DT* x, \
                                                 const ag_a_##DT* mean, const ag_a_##DT* rstd,       \
                                                 const ag_t_##DT* w, long long M, long long N, int rms) { \
    ln_bwd(dx, g, x, mean, rstd, w, M, N, rms);                                                        \
  }                                                                                                    \
  extern "C" __global__ void layer_norm_bwd_params_##DT(ag_t_##DT* dw, ag_t_##DT* db, const ag_t_##DT* g, \
                                                        const ag_t_##DT* x, const ag_a_##DT* mean,   \
                                                        const ag_a_##DT* rstd, long long M, long long N) { \
    ln_bwd_params(dw, db, g, x, mean, rstd, M, N);                                                     \
  }                                                                                                    \
  extern "C" __global__ void batch_norm_fwd_stats_##DT(ag_a_##DT* mean, ag_a_##DT* var,               \
                                                       const ag_t_##DT* x, long long N, long long C,  \
                                                       long long L) {                                 \
    bn_stats(mean, var, x, N, C, L);                                                                   \
  }                                                                                                    \
  extern "C" __global__ void batch_norm_fwd_##DT(ag_t_##DT* y, const ag_t_##DT* x, const ag_a_##DT* mean, \
                                                 const ag_a_##DT* invstd, const ag_t_##DT* w,        \
                                                 const ag_t_##DT* b, long long N, long long C,       \
                                                 long long L) {                                      \
    bn_fwd(y, x, mean, invstd, w, b, N, C, L);                                                         \
  }                                                                                                    \
  extern "C" __global__ void batch_norm_bwd_reduce_##DT(ag_a_##DT* sg, ag_a_##DT* sgx, const ag_t_##DT* g, \
                                                        const ag_t_##DT* x, const ag_a_##DT* mean,   \
                                                        long long N, long long C, long long L) {     \
    bn_bwd_reduce(sg, sgx, g, x, mean, N, C, L);                                                       \
  }                                                                                                    \
  extern "C" __global__ void batch_norm_bwd_##DT(ag_t_##DT* dx, const ag_t_##DT* g, const ag_t_##DT* x, \
                                                 const ag_a_##DT* mean, const ag_a_##DT* invstd,     \
                                                 const ag_t_##DT* w, const ag_a_##DT* sg,            \
                                                 const ag_a_##DT* sgx, long long N, long long C,     \
                                                 long long L, int training) {                        \
    bn_bwd(dx, g, x, mean, invstd, w, sg, sgx, N, C, L, training);                                     \
  }
AG_FOR_F(NORM_KERNELS)
