"""How samples become a batch (PyTorch's ``default_collate`` / ``default_convert``): tensors and
arrays are stacked along a new first dim, numbers become a tensor, strings stay a list, and dicts,
tuples, lists and namedtuples are collated field by field."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ... import dtypes as _dt
from ...ops.creation import as_tensor, from_numpy, tensor
from ...ops.join import stack
from ...tensor import Tensor

__all__ = ["default_collate", "default_convert"]


def _type_error(elem) -> TypeError:
    return TypeError(f"default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
                     f"found {type(elem)}")


def default_collate(batch: list) -> Any:
    elem = batch[0]
    if isinstance(elem, Tensor):
        return stack(list(batch), 0)
    if isinstance(elem, np.ndarray):
        if elem.dtype.kind in "OUSV":
            raise _type_error(elem)
        return stack([from_numpy(np.require(b, requirements="C")) for b in batch], 0)
    if isinstance(elem, np.generic):
        if elem.dtype.kind in "OUSV":
            raise _type_error(elem)
        return as_tensor(np.array(batch))
    if isinstance(elem, float):
        return tensor(batch, dtype=_dt.float64)
    if isinstance(elem, int):
        return tensor(batch)
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, Mapping):
        fields = {key: default_collate([d[key] for d in batch]) for key in elem}
        try:
            return type(elem)(fields)
        except TypeError:
            return fields
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):      # namedtuple
        return type(elem)(*(default_collate(list(s)) for s in zip(*batch)))
    if isinstance(elem, Sequence):
        size = len(elem)
        if any(len(e) != size for e in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        columns = [default_collate(list(s)) for s in zip(*batch)]
        if isinstance(elem, tuple):
            return columns
        try:
            return type(elem)(columns)
        except TypeError:
            return columns
    raise _type_error(elem)


def default_convert(data: Any) -> Any:
    """Without batching: NumPy arrays and scalars become tensors, containers are walked."""
    if isinstance(data, Tensor):
        return data
    if isinstance(data, np.ndarray):
        return data if data.dtype.kind in "OUSV" else from_numpy(np.require(data, requirements="C"))
    if isinstance(data, np.generic):
        return data if data.dtype.kind in "OUSV" else as_tensor(np.array(data))
    if isinstance(data, Mapping):
        try:
            return type(data)({k: default_convert(v) for k, v in data.items()})
        except TypeError:
            return {k: default_convert(v) for k, v in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, Sequence) and not isinstance(data, (str, bytes)):
        try:
            return type(data)([default_convert(d) for d in data])
        except TypeError:
            return [default_convert(d) for d in data]
    return data
