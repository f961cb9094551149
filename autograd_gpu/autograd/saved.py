"""A tensor saved for backward, and the check that it was not changed in place since."""
from __future__ import annotations

from ..tensor import Tensor, type_name
from . import anomaly

_make = Tensor._make


class SavedTensor:
    """A tensor saved for backward, checked against in-place changes when unpacked.

    Outputs are stored without their ``grad_fn`` (that is the node holding them) and
    rebuilt on unpack, so a node never keeps itself alive through its own output.
    """

    __slots__ = ("tensor", "data", "device", "vc", "version", "output_nr", "requires_grad", "packed",
                 "unpack_hook")

    def __init__(self, t, output_nr: int | None, hooks: tuple | None = None) -> None:
        self.vc = t._vc
        self.version = t._vc[0]
        self.output_nr = output_nr
        self.unpack_hook = None
        if hooks is not None:  # saved_tensors_hooks: keep only what pack returns
            self.packed, self.unpack_hook = hooks[0](t), hooks[1]
            self.tensor = self.data = self.device = None
        elif output_nr is None:
            self.tensor, self.data, self.device = t, None, None
        else:
            self.tensor, self.data, self.device = None, t._data, t._device
            self.requires_grad = t.grad_fn is not None

    def unpack(self, node):
        if self.unpack_hook is not None:
            return self.unpack_hook(self.packed)
        if self.vc[0] != self.version:
            t = self.tensor
            if t is not None and t.grad_fn is not None:
                where = f", which is output {t._output_nr} of {t.grad_fn.name()},"
            elif t is None:
                where = f", which is output {self.output_nr} of {node.name()},"
            else:
                where = ""
            probe = t if t is not None else Tensor._make(self.data, self.device)
            hint = ("Hint: the backtrace further above shows the operation that failed to compute its "
                    "gradient. The variable in question was changed in there or anywhere later. Good luck!"
                    if anomaly.enabled else
                    "Hint: enable anomaly detection to find the operation that failed to compute its "
                    "gradient, with autograd_gpu.autograd.set_detect_anomaly(True).")
            raise RuntimeError(
                "one of the variables needed for gradient computation has been modified by an "
                f"inplace operation: [{type_name(probe)} [{', '.join(map(str, probe.shape))}]]{where} "
                f"is at version {self.vc[0]}; expected version {self.version} instead. {hint}")
        if self.tensor is not None:
            return self.tensor
        t = _make(self.data, self.device)
        t._vc = self.vc
        if self.requires_grad:
            t.grad_fn, t._output_nr = node, self.output_nr
        return t
