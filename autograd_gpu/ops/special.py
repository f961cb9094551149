"""Further elementwise math: inverse trigonometric and hyperbolic functions, erf, exp2/log2/log10,
rounding parts, and the binary ops fmod, copysign, lerp, logaddexp, atan2, nan_to_num."""
from __future__ import annotations
