// Losses over contiguous inputs viewed as (outer, C, inner); a row is one (o, i) pair
// (rows = outer * inner) and its class c sits at o*C*inner + c*inner + i.
//
// cross_entropy_fwd_<dt>(loss, lse, wt, x, t, w, has_w, rows, C, inner, ii, eps, err)
//   one block per row: max, sum of exp (and sum of w_c x_c when smoothing) reduced in the
//   block; writes the row's loss, its log-sum-exp and its target's weight (0 when ignored).
//   lse is (2, rows) as the NumPy kernels save it: [shift (the row max), log sum exp(x - shift)],
//   kept apart so that x - shift stays exact and only log sum (<= log C) is rounded: a single
//   float16 lse near |x| ~ 32 is off by up to 2^-6, 1.6% in every softmax of the backward.
//   A target outside [0, C) that is not ii is recorded in err = {1, target} (first one wins).
// cross_entropy_bwd_<dt>(gx, c, x, lse, t, w, has_w, rows, C, inner, ii, eps, wall)
//   one block per row: gx = c_r (softmax * s_r - q), q = (1-eps) w_t onehot + eps/C w,
//   s_r = (1-eps) w_t + eps/C * wall; ignored rows give 0.
// cross_entropy_fwd_prob_<dt>(loss, lse, x, y, w, has_w, rows, C, inner, eps)
//   loss = sum_c q_c (lse - x_c), q = w ((1-eps) y + eps/C).
// cross_entropy_bwd_prob_<dt>(gx, c, x, lse, y, w, has_w, rows, C, inner, eps)
//   gx = c_r (softmax * sum q - q).
// nll_loss_fwd_<dt>(loss, wt, x, t, w, has_w, rows, C, inner, ii, err): one thread per row.
// nll_loss_bwd_<dt>(gx, c, t, w, has_w, rows, C, inner, ii): one thread per element.
// float16 computes in float, float32 in float, float64 in double.
#include "common.cuh"

struct LSumOp {
  template <typename A> __device__ __forceinline__ A operator()(A x, A y) const { return x + y; }
};
struct LMaxOp {
  template <typename A> __device__ __forceinline__ A operator()(A x, A y) const {
    return ag_isnan(x) ? x : (ag_isnan(y) ? y : (x > y ? x : y));
  }
};

__device__ __forceinline__ void loss_record(long long* err, long long t) {
  if (atomicCAS((unsigned long long*)err, 0ULL, 1ULL) == 0ULL) err[1] = t;
}

// the row's log-sum-exp as shift m (the max, 0 for an infinite max) and ls = log sum exp(x - m)
template <typename T, typename A>
__device__ __forceinline__ void loss_row_lse(const T* x, long long base, long long C, long long inner, A& m, A& ls) {
  m = Lim<A>::lowest();
  for (long long j = threadIdx.x; j < C; j += blockDim.x) m = LMaxOp()(m, Cvt<A>::from(x[base + j * inner]));
  m = ag_block_reduce(m, LMaxOp(), Lim<A>::lowest());
  if (m == Lim<A>::lowest() || m == Lim<A>::highest()) m = A(0);   // all -inf / +inf rows
  A s = A(0);
  for (long long j = threadIdx.x; j < C; j += blockDim.x) s += ag_exp(Cvt<A>::from(x[base + j * inner]) - m);
  ls = ag_log(ag_block_reduce(s, LSumOp(), A(0)));
}

template <typename T>
__device__ void ce_fwd_run(T* loss, T* lse_out, T* wt_out, const T* x, const long long* t, const T* w, int has_w,
                           long long rows, long long C, long long inner, long long ii, double eps, long long* err) {
  typedef typename Compute<T>::type A;
  for (long long row = blockIdx.x; row < rows; row += gridDim.x) {
    const long long o = row / inner, in = row % inner, base = o * C * inner + in;
    A shift, ls;
    loss_row_lse<T, A>(x, base, C, inner, shift, ls);
    const A lse = shift + ls;
    const long long tg = t[row];
    const bool valid = tg != ii;
    const bool inb = tg >= 0 && tg < C;
    A smooth = A(0);
    if (eps != 0.0) {
      A sx = A(0), wall = A(0);
      for (long long j = threadIdx.x; j < C; j += blockDim.x) {
        const A wc = has_w ? Cvt<A>::from(w[j]) : A(1);
        sx += wc * Cvt<A>::from(x[base + j * inner]);
        wall += wc;
      }
      sx = ag_block_reduce(sx, LSumOp(), A(0));
      wall = ag_block_reduce(wall, LSumOp(), A(0));
      smooth = lse * wall - sx;
    }
    if (threadIdx.x == 0) {
      A l = A(0), wt = A(0);
      if (valid && !inb) {
        loss_record(err, tg);
      } else if (valid) {
        wt = has_w ? Cvt<A>::from(w[tg]) : A(1);
        l = wt * (lse - Cvt<A>::from(x[base + tg * inner]));
        if (eps != 0.0) l = A(1 - eps) * l + A(eps / (double)C) * smooth;
      }
      loss[row] = Cvt<T>::from(l);
      lse_out[row] = Cvt<T>::from(shift);
      lse_out[rows + row] = Cvt<T>::from(ls);
      wt_out[row] = Cvt<T>::from(wt);
    }
  }
}

template <typename T>
__device__ void ce_bwd_run(T* gx, const T* c, const T* x, const T* lse, const long long* t, const T* w, int has_w,
                           long long rows, long long C, long long inner, long long ii, double eps, double wall) {
  typedef typename Compute<T>::type A;
  for (long long row = blockIdx.x; row < rows; row += gridDim.x) {
    const long long o = row / inner, in = row % inner, base = o * C * inner + in;
    const long long tg = t[row];
    const bool valid = tg != ii && tg >= 0 && tg < C;
    const A cm = valid ? Cvt<A>::from(c[row]) : A(0);
    const A wt = valid ? (has_w ? Cvt<A>::from(w[tg]) : A(1)) : A(0);
    const A sr = A(1 - eps) * wt + A(eps / (double)C * wall);
    const A sh = Cvt<A>::from(lse[row]), ls = Cvt<A>::from(lse[rows + row]);
    for (long long j = threadIdx.x; j < C; j += blockDim.x) {
      const long long p = base + j * inner;
      A q = eps != 0.0 ? A(eps / (double)C) * (has_w ? Cvt<A>::from(w[j]) : A(1)) : A(0);
      if (j == tg) q += A(1 - eps) * wt;
      gx[p] = Cvt<T>::from(valid ? cm * (ag_exp((Cvt<A>::from(x[p]) - sh) - ls) * sr - q) : A(0));
    }
  }
}

template <typename T, typename A>
__device__ __forceinline__ A ce_q(const T* y, const T* w, int has_w, long long p, long long j, double eps, long long C) {
  A q = Cvt<A>::from(y[p]);
  if (eps != 0.0) q = q * A(1 - eps) + A(eps / (double)C);
  return has_w ? q * Cvt<A>::from(w[j]) : q;
}

template <typename T>
__device__ void ce_fwd_prob_run(T* loss, T* lse_out, const T* x, const T* y, const T* w, int has_w, long long rows,
                                long long C, long long inner, double eps) {
  typedef typename Compute<T>::type A;
  for (long long row = blockIdx.x; row < rows; row += gridDim.x) {
    const long long o = row / inner, in = row % inner, base = o * C * inner + in;
    A shift, ls;
    loss_row_lse<T, A>(x, base, C, inner, shift, ls);
    const A lse = shift + ls;
    A s = A(0);
    for (long long j = threadIdx.x; j < C; j += blockDim.x) {
      const long long p = base + j * inner;
      s += ce_q<T, A>(y, w, has_w, p, j, eps, C) * (lse - Cvt<A>::from(x[p]));
    }
    s = ag_block_reduce(s, LSumOp(), A(0));
    if (threadIdx.x == 0) {
      loss[row] = Cvt<T>::from(s);
      lse_out[row] = Cvt<T>::from(shift);
      lse_out[rows + row] = Cvt<T>::from(ls);
    }
  }
}

template <typename T>
__device__ void ce_bwd_prob_run(T* gx, const T* c, const T* x, const T* lse, const T* y, const T* w, int has_w,
                                long long rows, long long C, long long inner, double eps) {
  typedef typename Compute<T>::type A;
  for (long long row = blockIdx.x; row < rows; row += gridDim.x) {
    const long long o = row / inner, in = row % inner, base = o * C * inner + in;
    A s = A(0);
    for (long long j = threadIdx.x; j < C; j += blockDim.x) s += ce_q<T, A>(y, w, has_w, base + j * inner, j, eps, C);
    s = ag_block_reduce(s, LSumOp(), A(0));
    const A cr = Cvt<A>::from(c[row]), sh = Cvt<A>::from(lse[row]), ls = Cvt<A>::from(lse[rows + row]);
    for (long long j = threadIdx.x; j < C; j += blockDim.x) {
      const long long p = base + j * inner;
      gx[p] = Cvt<T>::from(cr * (ag_exp((Cvt<A>::from(x[p]) - sh) - ls) * s - ce_q<T, A>(y, w, has_w, p, j, eps, C)));
    }
  }
}

template <typename T>
__device__ void nll_fwd_run(T* loss, T* wt_out, const T* x, const long long* t, const T* w, int has_w, long long rows,
                            long long C, long long inner, long long ii, long long* err) {
  typedef typename Compute<T>::type A;
  for (long long row = ag_tid(); row < rows; row += ag_nthreads()) {
    const long long o = row / inner, in = row % inner;
    const long long tg = t[row];
    A l = A(0), wt = A(0);
    if (tg != ii) {
      if (tg < 0 || tg >= C) {
        loss_record(err, tg);
      } else {
        wt = has_w ? Cvt<A>::from(w[tg]) : A(1);
        l = -wt * Cvt<A>::from(x[o * C * inner + tg * inner + in]);
      }
    }
    loss[row] = Cvt<T>::from(l);
    wt_out[row] = Cvt<T>::from(wt);
  }
}

template <typename T>
__device__ void nll_bwd_run(T* gx, const T* c, const long long* t, const T* w, int has_w, long long rows, long long C,
                            long long inner, long long ii) {
  typedef typename Compute<T>::type A;
  const long long n = rows * C;
  for (long long k = ag_tid(); k < n; k += ag_nthreads()) {
    const long long in = k % inner, j = (k / inner) % C, o = k / (inner * C);
    const long long row = o * inner + in, tg = t[row];
    A v = A(0);
    if (tg == j && tg != ii) v = -(has_w ? Cvt<A>::from(w[tg]) : A(1)) * Cvt<A>::from(c[row]);
    gx[k] = Cvt<T>::from(v);
  }
}

#define LOSS_KERNELS(DT)                                                                                   \
  extern "C" __global__ void cross_entropy_fwd_##DT(ag_t_##DT* loss, ag_t_##DT* lse, ag_t_##DT* wt,          \
      const ag_t_##DT* x, const long long* t, const ag_t_##DT* w, int has_w, long long rows, long long C,    \
      long long inner, long long ii, double eps, long long* err) {                                          \
    ce_fwd_run(loss, lse, wt, x, t, w, has_w, rows, C, inner, ii, eps, err);                                \
  }                                                                                                         \
  extern "C" __global__ void cross_entropy_bwd_##DT(ag_t_##DT* gx, const ag_t_##DT* c, const ag_t_##DT* x,   \
      const ag_t_##DT* lse, const long long* t, const ag_t_##DT* w, int has_w, long long rows, long long C,  \
      long long inner, long long ii, double eps, double wall) {                                             \
    ce_bwd_run(gx, c, x, lse, t, w, has_w, rows, C, inner, ii, eps, wall);                                  \
  }                                                                                                         \
  extern "C" __global__ void cross_entropy_fwd_prob_##DT(ag_t_##DT* loss, ag_t_##DT* lse, const ag_t_##DT* x, \
      const ag_t_##DT* y, const ag_t_##DT* w, int has_w, long long rows, long long C, long long inner,       \
      double eps) {                                                                                         \
    ce_fwd_prob_run(loss, lse, x, y, w, has_w, rows, C, inner, eps);                                        \
  }                                                                                                         \
  extern "C" __global__ void cross_entropy_bwd_prob_##DT(ag_t_##DT* gx, const ag_t_##DT* c,                  \
      const ag_t_##DT* x, const ag_t_##DT* lse, const ag_t_##DT* y, const ag_t_##DT* w, int has_w,           \
      long long rows, long long C, long long inner, double eps) {                                           \
    ce_bwd_prob_run(gx, c, x, lse, y, w, has_w, rows, C, inner, eps);                                       \
  }                                                                                                         \
  extern "C" __global__ void nll_loss_fwd_##DT(ag_t_##DT* loss, ag_t_##DT* wt, const ag_t_##DT* x,           \
      const long long* t, const ag_t_##DT* w, int has_w, long long rows, long long C, long long inner,       \
      long long ii, long long* err) {                                                                       \
    nll_fwd_run(loss, wt, x, t, w, has_w, rows, C, inner, ii, err);                                         \
  }                                                                                                         \
  extern "C" __global__ void nll_loss_bwd_##DT(ag_t_##DT* gx, const ag_t_##DT* c, const long long* t,        \
      const ag_t_##DT* w, int has_w, long long rows, long long C, long long inner, long long ii) {           \
    nll_bwd_run(gx, c, t, w, has_w, rows, C, inner, ii);                                                    \
  }
AG_FOR_F(LOSS_KERNELS)
