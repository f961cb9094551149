// Elementwise machinery shared by every elementwise kernel file (elementwise.cu, and the
// op families that include this header): the strided/contiguous/vector loop ew_run, the
// functor macros OP1/OP2/OP3 and the instantiation macros EW*/ON_*/UNARY_F. A file of ops
// includes it and writes one functor and one instantiation line per op (KERNELS.md).
#pragma once
#include "common.cuh"

template <typename T, int V> struct alignas(sizeof(T) * V) Vec { T v[V]; };

template <int N> struct Apply;
template <> struct Apply<1> {
  template <typename Op, typename C0, typename C>
  __device__ __forceinline__ static auto call(const Op& op, C0 x, C, C, double a, double b) {
    return op(x, a, b);
  }
};
template <> struct Apply<2> {
  template <typename Op, typename C0, typename C>
  __device__ __forceinline__ static auto call(const Op& op, C0 x, C y, C, double a, double b) {
    return op(x, y, a, b);
  }
};
template <> struct Apply<3> {
  template <typename Op, typename C0, typename C>
  __device__ __forceinline__ static auto call(const Op& op, C0 x, C y, C z, double a, double b) {
    return op(x, y, z, a, b);
  }
};

template <typename T>
__device__ __forceinline__ typename Compute<T>::type ew_load(const T* ptr, long long off, int k,
                                                             const EwParams& p) {
  typedef typename Compute<T>::type C;
  if (p.scalar_mask & (1 << k)) return Scalar<C>::get(p.fs[k], p.is[k]);
  return Cvt<C>::from(ptr[off]);
}

// element offsets of the inputs for output index i; 32-bit div/mod when possible
template <typename I, int NIN>
__device__ __forceinline__ void ew_offsets(I i, const EwParams& p, long long* off) {
#pragma unroll
  for (int k = 0; k < NIN; ++k) off[k] = 0;
  for (int d = p.ndim - 1; d >= 0; --d) {
    const I s = (I)p.shape[d];
    const I c = i % s;
    i /= s;
#pragma unroll
    for (int k = 0; k < NIN; ++k) off[k] += (long long)c * p.st[k][d];
  }
}

template <int NIN, typename T0, typename T, typename O, typename Op>
__device__ __forceinline__ void ew_one(const Op& op, O* out, const T0* x0, const T* x1, const T* x2,
                                       long long i, const long long* off, const EwParams& p) {
  typedef typename Compute<T0>::type C0;
  typedef typename Compute<T>::type C;
  C0 v0 = ew_load(x0, off[0], 0, p);
  C v1 = NIN > 1 ? ew_load(x1, off[1], 1, p) : C();
  C v2 = NIN > 2 ? ew_load(x2, off[2], 2, p) : C();
  out[i] = Cvt<O>::from(Apply<NIN>::call(op, v0, v1, v2, p.a, p.b));
}

template <int NIN, typename T0, typename T, typename O, typename Op>
__device__ void ew_run(const Op& op, O* out, const T0* x0, const T* x1, const T* x2, const EwParams& p) {
  const long long n = p.n, start = ag_tid(), step = ag_nthreads();
  if (p.mode == 0) {
    long long off[AG_MAX_IN];
    if (n <= 0x7fffffffLL) {
      for (long long i = start; i < n; i += step) {
        ew_offsets<unsigned int, NIN>((unsigned int)i, p, off);
        ew_one<NIN>(op, out, x0, x1, x2, i, off, p);
      }
    } else {
      for (long long i = start; i < n; i += step) {
        ew_offsets<long long, NIN>(i, p, off);
        ew_one<NIN>(op, out, x0, x1, x2, i, off, p);
      }
    }
    return;
  }
  long long tail = 0;
  if (p.mode == 2) {
    typedef typename Compute<T0>::type C0;
    typedef typename Compute<T>::type C;
    const long long nv = n / 4;
    for (long long v = start; v < nv; v += step) {
      Vec<T0, 4> a0;
      Vec<T, 4> a1, a2;
      Vec<O, 4> r;
      if (!(p.scalar_mask & 1)) a0 = reinterpret_cast<const Vec<T0, 4>*>(x0)[v];
      if (NIN > 1 && !(p.scalar_mask & 2)) a1 = reinterpret_cast<const Vec<T, 4>*>(x1)[v];
      if (NIN > 2 && !(p.scalar_mask & 4)) a2 = reinterpret_cast<const Vec<T, 4>*>(x2)[v];
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        C0 v0 = (p.scalar_mask & 1) ? Scalar<C0>::get(p.fs[0], p.is[0]) : Cvt<C0>::from(a0.v[j]);
        C v1 = NIN > 1 ? ((p.scalar_mask & 2) ? Scalar<C>::get(p.fs[1], p.is[1]) : Cvt<C>::from(a1.v[j])) : C();
        C v2 = NIN > 2 ? ((p.scalar_mask & 4) ? Scalar<C>::get(p.fs[2], p.is[2]) : Cvt<C>::from(a2.v[j])) : C();
        r.v[j] = Cvt<O>::from(Apply<NIN>::call(op, v0, v1, v2, p.a, p.b));
      }
      reinterpret_cast<Vec<O, 4>*>(out)[v] = r;
    }
    tail = nv * 4;
  }
  long long off[AG_MAX_IN];
  for (long long i = tail + start; i < n; i += step) {
#pragma unroll
    for (int k = 0; k < AG_MAX_IN; ++k) off[k] = i;
    ew_one<NIN>(op, out, x0, x1, x2, i, off, p);
  }
}

// ---------------------------------------------------------------------------------
// ops: functors over the compute type
#define OP1(NAME, EXPR)                                                               \
  struct NAME {                                                                       \
    template <typename C> __device__ __forceinline__ C operator()(C x, double a, double b) const { \
      return EXPR;                                                                    \
    }                                                                                 \
  };
#define OP2(NAME, RT, EXPR)                                                           \
  struct NAME {                                                                       \
    template <typename C> __device__ __forceinline__ RT operator()(C x, C y, double a, double b) const { \
      return EXPR;                                                                    \
    }                                                                                 \
  };
#define OP3(NAME, EXPR)                                                               \
  struct NAME {                                                                       \
    template <typename C0, typename C>                                                \
    __device__ __forceinline__ C operator()(C0 x, C y, C z, double a, double b) const { \
      return EXPR;                                                                    \
    }                                                                                 \
  };

// ---------------------------------------------------------------------------------
// instantiation: NIN, input-0 type, output type per kernel family
#define EW_KERNEL(NAME, OP, NIN, DT, T0, O)                                             \
  extern "C" __global__ void NAME##_##DT(O* out, const T0* x0, const ag_t_##DT* x1,       \
                                         const ag_t_##DT* x2, const EwParams p) {          \
    ew_run<NIN, T0, ag_t_##DT, O>(OP(), out, x0, x1, x2, p);                             \
  }
#define EW1(NAME, OP, DT) EW_KERNEL(NAME, OP, 1, DT, ag_t_##DT, ag_t_##DT)
#define EW2(NAME, OP, DT) EW_KERNEL(NAME, OP, 2, DT, ag_t_##DT, ag_t_##DT)
#define EW3(NAME, OP, DT) EW_KERNEL(NAME, OP, 3, DT, ag_t_##DT, ag_t_##DT)
#define EW2B(NAME, OP, DT) EW_KERNEL(NAME, OP, 2, DT, ag_t_##DT, bool)
#define EW1B(NAME, OP, DT) EW_KERNEL(NAME, OP, 1, DT, ag_t_##DT, bool)
#define EW_WHERE(NAME, OP, DT) EW_KERNEL(NAME, OP, 3, DT, bool, ag_t_##DT)

#define ON_F(X, NAME, OP) X(NAME, OP, float16) X(NAME, OP, float32) X(NAME, OP, float64)
#define ON_A(X, NAME, OP) ON_F(X, NAME, OP) X(NAME, OP, int32) X(NAME, OP, int64)
#define ON_AB(X, NAME, OP) ON_A(X, NAME, OP) X(NAME, OP, bool)

// One line declares a float unary op: its functor and the kernels <name>_fwd_<float16|32|64>.
// UNARY_F(name, expr in x); UNARY_MATH_F(name, floatfn, doublefn) for a math-library function.
#define UNARY_F(NAME, EXPR) OP1(NAME##_op, EXPR) ON_F(EW1, NAME##_fwd, NAME##_op)
#define UNARY_MATH_F(NAME, FF, DF)                                                    \
  __device__ __forceinline__ float ag_##NAME(float x) { return FF(x); }              \
  __device__ __forceinline__ double ag_##NAME(double x) { return DF(x); }            \
  UNARY_F(NAME, ag_##NAME(x))
