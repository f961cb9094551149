// Optimizer updates, multi-tensor: ONE launch updates every parameter of a (device, dtype) group,
// as PyTorch's multi_tensor_apply. Float16 computes in float, float32 in float, float64 in double.
//
// <op>_step_<dtype>(const long long* meta, int n_tensors, int n_chunks, long long chunk,
//                   double h0, double h1, double h2, double h3, double h4, int flags)
// meta: n_tensors records of REC int64 words, then n_chunks (tensor index, start) pairs.
//   record: [param*, grad*, state0*, state1*, state2*, numel, a (double bits), b (double bits)]
//   (a null state pointer: the option that needs it is off). Blocks walk the chunks (grid-stride);
//   threads stride within a chunk, so every access is coalesced and one chunk table balances
//   tensors of any sizes.
//
// adam_step:    h = lr, beta1, beta2, eps, weight_decay; a = step_size = lr / (1 - beta1^step),
//               b = sqrt(1 - beta2^step); flags 1 maximize, 2 amsgrad, 4 decoupled weight decay;
//               states exp_avg, exp_avg_sq, max_exp_avg_sq.
// sgd_step:     h = lr, momentum, dampening, weight_decay; b = 1: the momentum buffer is fresh
//               (buf = g); flags 1 maximize, 2 nesterov; state momentum_buffer (null: momentum 0).
// rmsprop_step: h = lr, alpha, eps, weight_decay, momentum; flags 1 maximize, 2 centered;
//               states square_avg, grad_avg, momentum_buffer.
// adagrad_step: h = -, -, eps, weight_decay; a = clr = lr / (1 + (step - 1) lr_decay);
//               flags 1 maximize; state sum.
#include "common.cuh"

#define OPT_REC 8

template <typename T> struct OptChunk {
  T* p; const T* g; T* s0; T* s1; T* s2; double a, b; long long lo, hi;
};

template <typename T>
__device__ __forceinline__ OptChunk<T> opt_chunk(const long long* meta, int n_tensors, int c, long long chunk) {
  const long long* pairs = meta + (long long)n_tensors * OPT_REC;
  const long long* r = meta + pairs[2 * c] * OPT_REC;
  OptChunk<T> k;
  k.p = (T*)r[0]; k.g = (const T*)r[1]; k.s0 = (T*)r[2]; k.s1 = (T*)r[3]; k.s2 = (T*)r[4];
  k.a = __longlong_as_double(r[6]); k.b = __longlong_as_double(r[7]);
  k.lo = pairs[2 * c + 1];
  k.hi = min(k.lo + chunk, r[5]);
  return k;
}

template <typename T>
__device__ void adam_run(const long long* meta, int n_tensors, int n_chunks, long long chunk, double lr_,
                         double b1_, double b2_, double eps_, double wd_, int flags) {
  typedef typename Compute<T>::type A;
  const A lr = (A)lr_, b1 = (A)b1_, b2 = (A)b2_, eps = (A)eps_, wd = (A)wd_;
  const bool maximize = flags & 1, amsgrad = flags & 2, decoupled = flags & 4;
  for (int c = blockIdx.x; c < n_chunks; c += gridDim.x) {
    const OptChunk<T> k = opt_chunk<T>(meta, n_tensors, c, chunk);
    const A step_size = (A)k.a, bc2_sqrt = (A)k.b;
    for (long long i = k.lo + threadIdx.x; i < k.hi; i += blockDim.x) {
      A p = Cvt<A>::from(k.p[i]), g = Cvt<A>::from(k.g[i]);
      if (maximize) g = -g;
      if (wd != A(0)) {
        if (decoupled) p = p * (A(1) - lr * wd);
        else g = g + wd * p;
      }
      A m = Cvt<A>::from(k.s0[i]), v = Cvt<A>::from(k.s1[i]);
      m = m + (A(1) - b1) * (g - m);
      v = v * b2 + (A(1) - b2) * g * g;
      A vv = v;
      if (amsgrad) {
        A vm = Cvt<A>::from(k.s2[i]);
        vm = vm > v ? vm : v;
        k.s2[i] = Cvt<T>::from(vm);
        vv = vm;
      }
      const A denom = ag_sqrt(vv) / bc2_sqrt + eps;
      p = p - step_size * (m / denom);
      k.s0[i] = Cvt<T>::from(m);
      k.s1[i] = Cvt<T>::from(v);
      k.p[i] = Cvt<T>::from(p);
    }
  }
}

template <typename T>
__device__ void sgd_run(const long long* meta, int n_tensors, int n_chunks, long long chunk, double lr_,
                        double mom_, double damp_, double wd_, double, int flags) {
  typedef typename Compute<T>::type A;
  const A lr = (A)lr_, mom = (A)mom_, damp = (A)damp_, wd = (A)wd_;
  const bool maximize = flags & 1, nesterov = flags & 2;
  for (int c = blockIdx.x; c < n_chunks; c += gridDim.x) {
    const OptChunk<T> k = opt_chunk<T>(meta, n_tensors, c, chunk);
    const bool fresh = k.b != 0.0;
    for (long long i = k.lo + threadIdx.x; i < k.hi; i += blockDim.x) {
      A p = Cvt<A>::from(k.p[i]), g = Cvt<A>::from(k.g[i]);
      if (maximize) g = -g;
      if (wd != A(0)) g = g + wd * p;
      if (k.s0 != nullptr) {
        A buf = fresh ? g : Cvt<A>::from(k.s0[i]) * mom + (A(1) - damp) * g;
        k.s0[i] = Cvt<T>::from(buf);
        g = nesterov ? g + mom * buf : buf;
      }
      k.p[i] = Cvt<T>::from(p - lr * g);
    }
  }
}

template <typename T>
__device__ void rmsprop_run(const long long* meta, int n_tensors, int n_chunks, long long chunk, double lr_,
                            double alpha_, double eps_, double wd_, double mom_, int flags) {
  typedef typename Compute<T>::type A;
  const A lr = (A)lr_, alpha = (A)alpha_, eps = (A)eps_, wd = (A)wd_, mom = (A)mom_;
  const bool maximize = flags & 1, centered = flags & 2;
  for (int c = blockIdx.x; c < n_chunks; c += gridDim.x) {
    const OptChunk<T> k = opt_chunk<T>(meta, n_tensors, c, chunk);
    for (long long i = k.lo + threadIdx.x; i < k.hi; i += blockDim.x) {
      A p = Cvt<A>::from(k.p[i]), g = Cvt<A>::from(k.g[i]);
      if (maximize) g = -g;
      if (wd != A(0)) g = g + wd * p;
      A sq = Cvt<A>::from(k.s0[i]) * alpha + (A(1) - alpha) * g * g;
      k.s0[i] = Cvt<T>::from(sq);
      A avg;
      if (centered) {
        A ga = Cvt<A>::from(k.s1[i]);
        ga = ga + (A(1) - alpha) * (g - ga);
        k.s1[i] = Cvt<T>::from(ga);
        avg = ag_sqrt(sq - ga * ga) + eps;
      } else {
        avg = ag_sqrt(sq) + eps;
      }
      if (mom > A(0)) {
        const A buf = Cvt<A>::from(k.s2[i]) * mom + g / avg;
        k.s2[i] = Cvt<T>::from(buf);
        p = p - lr * buf;
      } else {
        p = p - lr * (g / avg);
      }
      k.p[i] = Cvt<T>::from(p);
    }
  }
}

template <typename T>
__device__ void adagrad_run(const long long* meta, int n_tensors, int n_chunks, long long chunk, double,
                            double, double eps_, double wd_, double, int flags) {
  typedef typename Compute<T>::type A;
  const A eps = (A)eps_, wd = (A)wd_;
  const bool maximize = flags & 1;
  for (int c = blockIdx.x; c < n_chunks; c += gridDim.x) {
    const OptChunk<T> k = opt_chunk<T>(meta, n_tensors, c, chunk);
    const A clr = (A)k.a;
    for (long long i = k.lo + threadIdx.x; i < k.hi; i += blockDim.x) {
      A p = Cvt<A>::from(k.p[i]), g = Cvt<A>::from(k.g[i]);
      if (maximize) g = -g;
      if (wd != A(0)) g = g + wd * p;
      const A s = Cvt<A>::from(k.s0[i]) + g * g;
      k.s0[i] = Cvt<T>::from(s);
      k.p[i] = Cvt<T>::from(p - clr * (g / (ag_sqrt(s) + eps)));
    }
  }
}

#define OPT_KERNEL(OP, DT)                                                                            \
  extern "C" __global__ void OP##_step_##DT(const long long* meta, int n_tensors, int n_chunks,      \
                                            long long chunk, double h0, double h1, double h2,        \
                                            double h3, double h4, int flags) {                       \
    OP##_run<ag_t_##DT>(meta, n_tensors, n_chunks, chunk, h0, h1, h2, h3, h4, flags);                \
  }
#define OPT_KERNELS(DT) \
  OPT_KERNEL(adam, DT)  \
  OPT_KERNEL(sgd, DT)   \
  OPT_KERNEL(rmsprop, DT) \
  OPT_KERNEL(adagrad, DT)

OPT_KERNELS(float16)
OPT_KERNELS(float32)
OPT_KERNELS(float64)
