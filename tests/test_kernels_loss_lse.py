"""Static (text) guards of the CUDA cross-entropy keeping its log-sum-exp as (shift, log sum) (no GPU needed)."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOSS_CU = (ROOT / "kernels" / "loss.cu").read_text()
LOSS_PY = (ROOT / "autograd_gpu" / "backends" / "cuda_loss.py").read_text()


def test_cross_entropy_lse_saved_as_shift_and_log_sum():
    """A single float16 lse loses x − lse (2^-6 at |x| ~ 32): the forward kernels save (2, rows) =
    [row max, log Σ exp(x − max)] as the NumPy kernels do, and the backwards subtract them apart."""
    assert LOSS_CU.count("lse_out[rows + row] = Cvt<T>::from(ls);") == 2
    assert LOSS_CU.count("lse_out[row] = Cvt<T>::from(shift);") == 2
    assert "Cvt<T>::from(lse)" not in LOSS_CU
    assert LOSS_CU.count("Cvt<A>::from(lse[rows + row])") == 2
    assert LOSS_CU.count("ag_exp((Cvt<A>::from(x[p]) - sh) - ls)") == 2
    assert len(re.findall(r"cp\.empty\(\(2, O, I\), x3\.dtype\)", LOSS_PY)) == 2
