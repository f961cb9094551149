// Activation kernels added with nn.functional's breadth (hardtanh ... logsigmoid); the tier-1
// activations (relu, gelu, silu, softplus, leaky_relu, elu) stay in elementwise.cu.
// Same signature and launcher as elementwise.cu: cuda.elementwise(name, file="activation").
// Kinks and NaN follow PyTorch's CPU kernels: hardtanh' is 0 at its bounds, hardswish' is 0 at
// -3 and g at 3, the elu family takes the negative branch at x == 0 (x <= 0), NaN x gives g.
#include "elementwise.cuh"

template <typename C> __device__ __forceinline__ C act_clamp(C x, C lo, C hi) {
  return ag_isnan(x) ? x : (x < lo ? lo : (x > hi ? hi : x));
}
template <typename C> __device__ __forceinline__ C act_tanh_softplus(C x) { return ag_tanh(ag_log1p(ag_exp(x))); }

#define SELU_SCALE 1.0507009873554804934193349852946
#define SELU_SA (1.0507009873554804934193349852946 * 1.6732632423543772848170429916717)

// forward (x; a, b)
OP1(HardtanhOp, act_clamp(x, (C)a, (C)b))
OP1(HardsigmoidOp, act_clamp(x + C(3), C(0), C(6)) / C(6))
OP1(HardswishOp, x * act_clamp(x + C(3), C(0), C(6)) / C(6))
OP1(CeluOp, x <= C(0) ? (C)a * ag_expm1(x * (C)(1.0 / a)) : x)
OP1(SeluOp, x <= C(0) ? (C)SELU_SA * ag_expm1(x) : (C)SELU_SCALE * x)
OP1(MishOp, x * act_tanh_softplus(x))
OP1(LogsigmoidOp, (x < C(0) ? x : C(0)) - ag_log1p(ag_exp(-ag_fabs(x))))

// backward (g, x; a, b): x is g, y the op's input
OP2(HardtanhBwdOp, C, (y <= (C)a || y >= (C)b) ? C(0) : x)
OP2(HardsigmoidBwdOp, C, (y > C(-3) && y < C(3)) ? x * (C)(1.0 / 6.0) : C(0))
OP2(HardswishBwdOp, C, y <= C(-3) ? C(0) : (y < C(3) ? x * (y / C(3) + C(0.5)) : x))
OP2(CeluBwdOp, C, y <= C(0) ? x * ag_exp(y * (C)(1.0 / a)) : x)
OP2(SeluBwdOp, C, y <= C(0) ? x * (C)SELU_SA * ag_exp(y) : x * (C)SELU_SCALE)
struct MishBwdOp {
  template <typename C> __device__ __forceinline__ C operator()(C g, C x, double, double) const {
    const C s = C(1) / (C(1) + ag_exp(-x));
    const C t = act_tanh_softplus(x);
    return g * (t + x * s * (C(1) - t * t));
  }
};
struct LogsigmoidBwdOp {   // PyTorch's form: g (max_deriv - sign z / (1 + z)), z = exp(-|x|)
  template <typename C> __device__ __forceinline__ C operator()(C g, C x, double, double) const {
    const C z = ag_exp(-ag_fabs(x));
    const C q = z / (C(1) + z);
    return x < C(0) ? g * (C(1) - q) : g * q;
  }
};

ON_A(EW1, hardtanh_fwd, HardtanhOp)
ON_F(EW1, hardsigmoid_fwd, HardsigmoidOp)
ON_F(EW1, hardswish_fwd, HardswishOp)
ON_F(EW1, celu_fwd, CeluOp)
ON_F(EW1, selu_fwd, SeluOp)
ON_F(EW1, mish_fwd, MishOp)
ON_F(EW1, logsigmoid_fwd, LogsigmoidOp)

ON_F(EW2, hardtanh_bwd, HardtanhBwdOp)
ON_F(EW2, hardsigmoid_bwd, HardsigmoidBwdOp)
ON_F(EW2, hardswish_bwd, HardswishBwdOp)
ON_F(EW2, celu_bwd, CeluBwdOp)
ON_F(EW2, selu_bwd, SeluBwdOp)
ON_F(EW2, mish_bwd, MishBwdOp)
ON_F(EW2, logsigmoid_bwd, LogsigmoidBwdOp)
