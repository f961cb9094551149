// Elementwise kernels: <op>_<fwd|bwd>[_<variant>]_<dtype> (see KERNELS.md).
//
// Every kernel has the same signature
//   (O* out, const T0* x0, const T* x1, const T* x2, EwParams p)
// out is a fresh C-contiguous array of p.n elements; inputs are strided/broadcast
// through p.shape/p.st (mode 0), plain contiguous (mode 1) or contiguous and
// 4-element aligned (mode 2, vector loads). A scalar input has its bit set in
// p.scalar_mask and its value in p.fs/p.is (its pointer is null). Unused inputs
// are null. Arithmetic runs in Compute<T> (float for float16).
#include "elementwise.cuh"

template <typename C> __device__ __forceinline__ C ew_floor_div(C x, C y) {
  if (y == C(0)) return x / y;                                   // inf / nan like PyTorch
  C mod = ag_fmod(x, y);
  C div = (x - mod) / y;
  if (mod != C(0) && ((y < C(0)) != (mod < C(0)))) div -= C(1);
  if (div == C(0)) return ag_copysign(C(0), x / y);
  C fl = ag_floor(div);
  return div - fl > C(0.5) ? fl + C(1) : fl;
}
__device__ __forceinline__ int ew_floor_div(int x, int y) {
  if (y == 0) return 0;
  int q = x / y;
  return (x % y != 0 && ((x < 0) != (y < 0))) ? q - 1 : q;
}
__device__ __forceinline__ long long ew_floor_div(long long x, long long y) {
  if (y == 0) return 0;
  long long q = x / y;
  return (x % y != 0 && ((x < 0) != (y < 0))) ? q - 1 : q;
}
// remainder: PyTorch's formula (fmod, moved into the divisor's sign when nonzero), so a zero
// result keeps fmod's sign, the dividend's (-4 % 2 = -0.0, as PyTorch; NumPy gives +0.0).
// Integer division by zero gives 0 here: PyTorch's CPU raises ZeroDivisionError (our CPU path
// does too), its CUDA kernels do not check; a device-side check would cost a sync per op.
template <typename C> __device__ __forceinline__ C ew_rem(C x, C y) {
  C r = ag_fmod(x, y);
  if (r != C(0) && ((r < C(0)) != (y < C(0)))) r += y;
  return r;
}
__device__ __forceinline__ int ew_rem(int x, int y) {
  if (y == 0) return 0;
  int r = x % y;
  return (r != 0 && ((r < 0) != (y < 0))) ? r + y : r;
}
__device__ __forceinline__ long long ew_rem(long long x, long long y) {
  if (y == 0) return 0;
  long long r = x % y;
  return (r != 0 && ((r < 0) != (y < 0))) ? r + y : r;
}
// fmod: the sign of the dividend; integer y == 0 gives 0 (see ew_rem)
template <typename C> __device__ __forceinline__ C ew_fmod(C x, C y) { return ag_fmod(x, y); }
__device__ __forceinline__ int ew_fmod(int x, int y) { return y == 0 ? 0 : x % y; }
__device__ __forceinline__ long long ew_fmod(long long x, long long y) { return y == 0 ? 0 : x % y; }
__device__ __forceinline__ float ew_trunc(float x) { return truncf(x); }
__device__ __forceinline__ double ew_trunc(double x) { return trunc(x); }
__device__ __forceinline__ float ew_atan2(float y, float x) { return atan2f(y, x); }
__device__ __forceinline__ double ew_atan2(double y, double x) { return atan2(y, x); }
__device__ __forceinline__ float ew_exp2(float x) { return exp2f(x); }
__device__ __forceinline__ double ew_exp2(double x) { return exp2(x); }
// logaddexp(2): PyTorch's formula; equal infinities return themselves (inf - inf would be nan)
template <typename C> __device__ __forceinline__ C ew_logaddexp(C x, C y) {
  if (x == y && (x == Lim<C>::highest() || x == Lim<C>::lowest())) return x;
  const C m = x > y ? x : y, d = x > y ? x - y : y - x;
  return ag_isnan(d) ? d : m + ag_log1p(ag_exp(-d));
}
template <typename C> __device__ __forceinline__ C ew_logaddexp2(C x, C y) {
  if (x == y && (x == Lim<C>::highest() || x == Lim<C>::lowest())) return x;
  const C m = x > y ? x : y, d = x > y ? x - y : y - x;
  return ag_isnan(d) ? d : m + ag_log1p(ew_exp2(-d)) * C(1.4426950408889634);
}
// lerp: PyTorch's two-sided formula, exact at w = 0 and w = 1
template <typename C> __device__ __forceinline__ C ew_lerp(C s, C e, C w) {
  return (w < C(0) ? -w : w) < C(0.5) ? s + w * (e - s) : e - (e - s) * (C(1) - w);
}
template <typename C> __device__ __forceinline__ C ew_sigmoid(C x) { return C(1) / (C(1) + ag_exp(-x)); }
template <typename C> __device__ __forceinline__ C ew_sign(C x) {   // PyTorch: sign(nan) = 0
  return (C)((C(0) < x) - (x < C(0)));
}
// |x| with abs(-0.0) = +0.0 as PyTorch (x < 0 ? -x : x keeps the zero's sign)
template <typename C> __device__ __forceinline__ C ew_abs(C x) { return x < C(0) ? -x : x; }
__device__ __forceinline__ float ew_abs(float x) { return fabsf(x); }
__device__ __forceinline__ double ew_abs(double x) { return fabs(x); }
template <typename C> __device__ __forceinline__ C ew_gelu_tanh_inner(C x) {
  return C(0.7978845608028654) * (x + C(0.044715) * x * x * x);
}

// binary arithmetic (A; add/mul/maximum/minimum also B: or/and/or/and, as NumPy and PyTorch)
OP2(AddOp, C, x + (C)a * y)
OP2(SubOp, C, x - (C)a * y)
OP2(MulOp, C, x * y)
OP2(DivOp, C, x / y)
OP2(FloorDivOp, C, ew_floor_div(x, y))
OP2(RemOp, C, ew_rem(x, y))
OP2(PowOp, C, ag_pow(x, y))
OP2(FmodOp, C, ew_fmod(x, y))
OP2(Atan2Op, C, ew_atan2(x, y))
OP2(CopysignOp, C, ag_copysign(x, y))
OP2(LogaddexpOp, C, ew_logaddexp(x, y))
OP2(Logaddexp2Op, C, ew_logaddexp2(x, y))
OP3(LerpOp, ew_lerp(x, y, z))
// nan_to_num(x, posinf, neginf), a = the nan replacement
OP3(NanToNumOp, ag_isnan(x) ? (C)a : (x == Lim<C>::highest() ? y : (x == Lim<C>::lowest() ? z : x)))
OP2(MaxOp, C, ag_isnan(x) ? x : (ag_isnan(y) ? y : (x > y ? x : y)))
OP2(MinOp, C, ag_isnan(x) ? x : (ag_isnan(y) ? y : (x < y ? x : y)))
// comparisons / logic (out = bool)
OP2(EqOp, bool, x == y)
OP2(NeOp, bool, x != y)
OP2(LtOp, bool, x < y)
OP2(LeOp, bool, x <= y)
OP2(GtOp, bool, x > y)
OP2(GeOp, bool, x >= y)
OP2(AndOp, bool, x && y)
OP2(OrOp, bool, x || y)
OP2(XorOp, bool, (bool)x != (bool)y)
OP1(NotOp, !x)
OP3(WhereOp, x ? y : z)
// unary (A)
OP1(NegOp, -x)
OP1(AbsOp, ew_abs(x))
OP1(SignOp, ew_sign(x))
// unary (F)
OP1(ExpOp, ag_exp(x))
OP1(LogOp, ag_log(x))
OP1(Log1pOp, ag_log1p(x))
OP1(Expm1Op, ag_expm1(x))
OP1(SqrtOp, ag_sqrt(x))
OP1(RsqrtOp, ag_rsqrt(x))
OP1(ReciprocalOp, C(1) / x)
OP1(SinOp, ag_sin(x))
OP1(CosOp, ag_cos(x))
OP1(TanhOp, ag_tanh(x))
OP1(SigmoidOp, ew_sigmoid(x))
OP1(ReluOp, x < C(0) ? C(0) : x)   // NaN and -0.0 pass through, as PyTorch
OP1(ClampOp, ag_isnan(x) ? x : ((x < (C)a ? (C)a : x) > (C)b ? (C)b : (x < (C)a ? (C)a : x)))
OP1(GeluOp, C(0.5) * x * (C(1) + ag_erf(x * C(0.7071067811865476))))
OP1(GeluTanhOp, C(0.5) * x * (C(1) + ag_tanh(ew_gelu_tanh_inner(x))))
OP1(SiluOp, x * ew_sigmoid(x))
OP1(SoftplusOp, (C)a * x > (C)b ? x : ag_log1p(ag_exp((C)a * x)) / (C)a)
OP1(LeakyReluOp, x > C(0) ? x : (C)a * x)
OP1(EluOp, x > C(0) ? x : (C)a * (ag_exp(x) - C(1)))
// backward (F), (g, y) or (g, x)
OP2(TanhBwdOp, C, x * (C(1) - y * y))
OP2(SigmoidBwdOp, C, x * y * (C(1) - y))
OP2(ReluBwdOp, C, y > C(0) ? x : C(0))
OP2(GeluBwdOp, C,
    x * (C(0.5) * (C(1) + ag_erf(y * C(0.7071067811865476))) +
         y * C(0.3989422804014327) * ag_exp(C(-0.5) * y * y)))
struct GeluTanhBwdOp {
  template <typename C> __device__ __forceinline__ C operator()(C g, C x, double, double) const {
    const C t = ag_tanh(ew_gelu_tanh_inner(x));
    const C dinner = C(0.7978845608028654) * (C(1) + C(3) * C(0.044715) * x * x);
    return g * (C(0.5) * (C(1) + t) + C(0.5) * x * (C(1) - t * t) * dinner);
  }
};
struct SiluBwdOp {
  template <typename C> __device__ __forceinline__ C operator()(C g, C x, double, double) const {
    const C s = ew_sigmoid(x);
    return g * s * (C(1) + x * (C(1) - s));
  }
};
OP2(SoftplusBwdOp, C, (C)a * y > (C)b ? x : x * ew_sigmoid((C)a * y))
OP2(LeakyReluBwdOp, C, y > C(0) ? x : (C)a * x)
OP2(EluBwdOp, C, y > C(0) ? x : x * (C)a * ag_exp(y))
OP2(ClampBwdOp, C, (y >= (C)a && y <= (C)b) ? x : C(0))
OP2(AbsBwdOp, C, x * ew_sign(y))
OP2(SqrtBwdOp, C, x / (C(2) * y))
OP2(RsqrtBwdOp, C, C(-0.5) * x * y * y * y)
OP2(ReciprocalBwdOp, C, -x * y * y)
OP2(LogBwdOp, C, x / y)
OP2(Log1pBwdOp, C, x / (C(1) + y))
OP2(SinBwdOp, C, x * ag_cos(y))
OP2(CosBwdOp, C, -x * ag_sin(y))
OP2(PowScalarBwdOp, C, a == 0.0 ? C(0) : x * (C)a * ag_pow(y, (C)a - C(1)))
OP3(DivBwdYOp, -x * y / (z * z))
OP3(PowBwdXOp, z == C(0) ? C(0) : x * z * ag_pow(y, z - C(1)))
OP3(PowBwdYOp, (y == C(0) && z >= C(0)) ? C(0) : x * ag_pow(y, z) * ag_log(y))
OP3(MaximumBwdXOp, y < z ? C(0) : (y == z ? x / C(2) : x))   // a NaN on either side: g to both (PyTorch)
OP3(MinimumBwdXOp, y > z ? C(0) : (y == z ? x / C(2) : x))


ON_AB(EW2, add_fwd, AddOp)
ON_A(EW2, sub_fwd, SubOp)
ON_AB(EW2, mul_fwd, MulOp)
ON_F(EW2, div_fwd, DivOp)
ON_A(EW2, floor_divide_fwd, FloorDivOp)
ON_A(EW2, remainder_fwd, RemOp)
ON_F(EW2, pow_fwd, PowOp)
ON_AB(EW2, maximum_fwd, MaxOp)
ON_AB(EW2, minimum_fwd, MinOp)

ON_AB(EW2B, eq_fwd, EqOp)
ON_AB(EW2B, ne_fwd, NeOp)
ON_AB(EW2B, lt_fwd, LtOp)
ON_AB(EW2B, le_fwd, LeOp)
ON_AB(EW2B, gt_fwd, GtOp)
ON_AB(EW2B, ge_fwd, GeOp)
EW2B(logical_and_fwd, AndOp, bool)
EW2B(logical_or_fwd, OrOp, bool)
EW2B(logical_xor_fwd, XorOp, bool)
EW1B(logical_not_fwd, NotOp, bool)
ON_AB(EW_WHERE, where_fwd, WhereOp)

ON_A(EW1, neg_fwd, NegOp)
ON_A(EW1, abs_fwd, AbsOp)
ON_A(EW1, sign_fwd, SignOp)

ON_F(EW1, exp_fwd, ExpOp)
ON_F(EW1, log_fwd, LogOp)
ON_F(EW1, log1p_fwd, Log1pOp)
ON_F(EW1, expm1_fwd, Expm1Op)
ON_F(EW1, sqrt_fwd, SqrtOp)
ON_F(EW1, rsqrt_fwd, RsqrtOp)
ON_F(EW1, reciprocal_fwd, ReciprocalOp)
ON_F(EW1, sin_fwd, SinOp)
ON_F(EW1, cos_fwd, CosOp)
ON_F(EW1, tanh_fwd, TanhOp)
ON_F(EW1, sigmoid_fwd, SigmoidOp)
ON_F(EW1, relu_fwd, ReluOp)
ON_F(EW1, clamp_fwd, ClampOp)
ON_F(EW1, gelu_fwd, GeluOp)
ON_F(EW1, gelu_tanh_fwd, GeluTanhOp)
ON_F(EW1, silu_fwd, SiluOp)
ON_F(EW1, softplus_fwd, SoftplusOp)
ON_F(EW1, leaky_relu_fwd, LeakyReluOp)
ON_F(EW1, elu_fwd, EluOp)
UNARY_MATH_F(tan, tanf, tan)
UNARY_MATH_F(asin, asinf, asin)
UNARY_MATH_F(acos, acosf, acos)
UNARY_MATH_F(atan, atanf, atan)
UNARY_MATH_F(sinh, sinhf, sinh)
UNARY_MATH_F(cosh, coshf, cosh)
UNARY_MATH_F(asinh, asinhf, asinh)
UNARY_MATH_F(acosh, acoshf, acosh)
UNARY_MATH_F(atanh, atanhf, atanh)
UNARY_F(erf, ag_erf(x))
UNARY_MATH_F(erfc, erfcf, erfc)
UNARY_MATH_F(erfinv, erfinvf, erfinv)
UNARY_F(exp2, ew_exp2(x))
UNARY_MATH_F(log2, log2f, log2)
UNARY_MATH_F(log10, log10f, log10)
UNARY_F(frac, x - ew_trunc(x))
ON_A(EW2, fmod_fwd, FmodOp)
ON_F(EW2, atan2_fwd, Atan2Op)
ON_F(EW2, copysign_fwd, CopysignOp)
ON_F(EW2, logaddexp_fwd, LogaddexpOp)
ON_F(EW2, logaddexp2_fwd, Logaddexp2Op)
ON_F(EW3, lerp_fwd, LerpOp)
ON_F(EW3, nan_to_num_fwd, NanToNumOp)

ON_F(EW2, tanh_bwd, TanhBwdOp)
ON_F(EW2, sigmoid_bwd, SigmoidBwdOp)
ON_F(EW2, relu_bwd, ReluBwdOp)
ON_F(EW2, gelu_bwd, GeluBwdOp)
ON_F(EW2, gelu_tanh_bwd, GeluTanhBwdOp)
ON_F(EW2, silu_bwd, SiluBwdOp)
ON_F(EW2, softplus_bwd, SoftplusBwdOp)
ON_F(EW2, leaky_relu_bwd, LeakyReluBwdOp)
ON_F(EW2, elu_bwd, EluBwdOp)
ON_F(EW2, clamp_bwd, ClampBwdOp)
ON_F(EW2, abs_bwd, AbsBwdOp)
ON_F(EW2, sqrt_bwd, SqrtBwdOp)
ON_F(EW2, rsqrt_bwd, RsqrtBwdOp)
ON_F(EW2, reciprocal_bwd, ReciprocalBwdOp)
ON_F(EW2, log_bwd, LogBwdOp)
ON_F(EW2, log1p_bwd, Log1pBwdOp)
ON_F(EW2, sin_bwd, SinBwdOp)
ON_F(EW2, cos_bwd, CosBwdOp)
ON_F(EW2, pow_scalar_bwd, PowScalarBwdOp)
ON_F(EW3, div_bwd_y, DivBwdYOp)
ON_F(EW3, pow_bwd_x, PowBwdXOp)
ON_F(EW3, pow_bwd_y, PowBwdYOp)
ON_F(EW3, maximum_bwd_x, MaximumBwdXOp)
ON_F(EW3, minimum_bwd_x, MinimumBwdXOp)
