// Bitwise ops, shifts and closeness tests (KERNELS.md, "bitwise.cu"), on the elementwise
// machinery of elementwise.cuh. int8/uint8/int16 reach these kernels as int32 (the launcher
// widens and casts back), which gives the same bits: and/or/xor/not act per bit, a left shift
// keeps the low bits, and an amount >= 8 or 16 already shifts every stored bit out.
#include "elementwise.cuh"

// the unsigned twin of a compute type: a left shift of a negative value is undefined in C++
template <typename C> struct AgUnsigned { typedef C type; };
template <> struct AgUnsigned<int> { typedef unsigned int type; };
template <> struct AgUnsigned<long long> { typedef unsigned long long type; };

// PyTorch's CPU rule (and NumPy's) for amounts outside [0, bits): << gives 0, >> the sign fill
template <typename C> __device__ __forceinline__ C ag_shl(C x, C y) {
  typedef typename AgUnsigned<C>::type U;
  return (y < C(0) || y >= C(8 * sizeof(C))) ? C(0) : (C)((U)x << (int)y);
}
template <typename C> __device__ __forceinline__ C ag_shr(C x, C y) {
  return (y < C(0) || y >= C(8 * sizeof(C))) ? (x < C(0) ? C(-1) : C(0)) : (C)(x >> (int)y);
}

// ~x on integers, logical not on bool (as PyTorch's bitwise_not)
template <typename C> __device__ __forceinline__ C ag_bitnot(C x) { return ~x; }
template <> __device__ __forceinline__ bool ag_bitnot<bool>(bool x) { return !x; }

// isclose: equal, or a finite |x - y| <= b + |a*y| (a = rtol, b = atol, cast to x's compute type);
// (d - d) == 0 holds exactly for finite d
template <typename C> __device__ __forceinline__ bool ag_isclose(C x, C y, double a, double b) {
  if (x == y) return true;
  const C d = x > y ? x - y : y - x;
  const C ay = (C)a * y;
  return (d - d) == C(0) && d <= (C)b + (ay < C(0) ? -ay : ay);
}

OP2(BitAndOp, C, x & y)
OP2(BitOrOp, C, x | y)
OP2(BitXorOp, C, x ^ y)
OP1(BitNotOp, ag_bitnot(x))
OP2(ShlOp, C, ag_shl(x, y))
OP2(ShrOp, C, ag_shr(x, y))
OP2(IsCloseOp, bool, ag_isclose(x, y, a, b))
OP2(IsCloseNanOp, bool, (ag_isnan(x) && ag_isnan(y)) || ag_isclose(x, y, a, b))

#define ON_I(X, NAME, OP) X(NAME, OP, int32) X(NAME, OP, int64)
#define ON_IB(X, NAME, OP) ON_I(X, NAME, OP) X(NAME, OP, bool)

ON_IB(EW2, bitwise_and_fwd, BitAndOp)
ON_IB(EW2, bitwise_or_fwd, BitOrOp)
ON_IB(EW2, bitwise_xor_fwd, BitXorOp)
ON_IB(EW1, bitwise_not_fwd, BitNotOp)
ON_I(EW2, bitwise_left_shift_fwd, ShlOp)
ON_I(EW2, bitwise_right_shift_fwd, ShrOp)
ON_F(EW2B, isclose_fwd, IsCloseOp)
ON_F(EW2B, isclose_equal_nan_fwd, IsCloseNanOp)
