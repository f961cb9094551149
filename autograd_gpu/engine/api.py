"""``backward`` and ``grad``: check the roots and their gradients, then run the engine."""
from __future__ import annotations

import warnings

from ..autograd.graph import gradient_edge
from ..dispatch import op
from ..tensor import Tensor
from .engine import run_backward


def _tensors(x, what: str) -> tuple:
    if isinstance(x, Tensor):
        return (x,)
    x = tuple(x)
    for t in x:
        if not isinstance(t, Tensor):
            raise TypeError(f"{what} must be Tensors or sequences of Tensors, got {type(t).__name__}")
    return x


def _make_grads(outputs: tuple, grads, create_graph: bool) -> list:
    if grads is None:
        grads = (None,) * len(outputs)
    elif isinstance(grads, Tensor) or not isinstance(grads, (list, tuple)):
        grads = (grads,)
    elif len(outputs) == 1 and grads and not isinstance(grads[0], (Tensor, type(None))):
        grads = (grads,)  # a plain nested list given as the gradient of one output
    if len(grads) != len(outputs):
        raise RuntimeError("grad can be implicitly created only for scalar outputs"
                           if not grads else
                           f"Mismatch in length: got {len(grads)} gradients for {len(outputs)} outputs")
    result = []
    for i, (out, g) in enumerate(zip(outputs, grads)):
        if g is None:
            if out._data.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            if out._data.dtype.kind != "f":
                raise RuntimeError(f"grad can be implicitly created only for real scalar outputs but got "
                                   f"{out.dtype}")
            result.append(op("ones_like")(out))
            continue
        if not isinstance(g, Tensor):
            g = op("tensor")(g, dtype=out.dtype, device=out.device)
        if g.shape != out.shape:
            raise RuntimeError(f"Mismatch in shape: grad_output[{i}] has a shape of {list(g.shape)} and "
                               f"output[{i}] has a shape of {list(out.shape)}.")
        if g.device != out.device:
            raise RuntimeError(f"invalid gradient at index {i} - expected device {out.device} but got "
                               f"{g.device}")
        # no copy: a leaf's .grad gets one only if this gradient reaches it unchanged (the
        # engine's ``_claim``), as in PyTorch; every other path computes new tensors from it
        result.append(g if create_graph and g.requires_grad else g.detach())
    return result


def _root_edges(outputs: tuple) -> list:
    edges = []
    for i, t in enumerate(outputs):
        e = gradient_edge(t)
        if e is None:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have a grad_fn")
        edges.append(e)
    return edges


def _input_edges(inputs: tuple) -> list:
    edges = []
    for t in inputs:
        e = gradient_edge(t)
        if e is None:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
        edges.append(e)
    return edges


def backward(tensors, grad_tensors=None, retain_graph: bool | None = None, create_graph: bool = False,
             grad_variables=None, inputs=None) -> None:
    """Accumulate d(tensors)/d(leaf) into each leaf's ``.grad`` (or only ``inputs``' ``.grad``)."""
    outputs = _tensors(tensors, "tensors")
    if grad_variables is not None:
        grad_tensors = grad_variables
    if retain_graph is None:
        retain_graph = create_graph
    if create_graph and inputs is None:
        warnings.warn(
            "Using backward() with create_graph=True will create a reference cycle between the parameter "
            "and its gradient which can cause a memory leak. We recommend using autograd.grad when creating "
            "the graph to avoid this. If you have to use this function, make sure to reset the .grad fields "
            "of your parameters to None after use to break the cycle and avoid the leak.", stacklevel=3)
    input_edges = None
    if inputs is not None:
        inputs = _tensors(inputs, "inputs")
        if not inputs:
            raise RuntimeError("'inputs' argument to backward() cannot be empty.")
        input_edges = _input_edges(inputs)
    edges = _root_edges(outputs)
    grads = _make_grads(outputs, grad_tensors, create_graph)
    captured = run_backward(edges, grads, retain_graph, create_graph, input_edges, accumulate=True)
    if inputs is not None:
        for t, g in zip(inputs, captured):
            if g is not None and t.grad_fn is not None:  # non-leaf inputs accumulate like retain_grad
                t.grad = g if t.grad is None else t.grad + g


def grad(outputs, inputs, grad_outputs=None, retain_graph: bool | None = None, create_graph: bool = False,
         only_inputs: bool = True, allow_unused: bool | None = None, is_grads_batched: bool = False,
         materialize_grads: bool = False) -> tuple:
    """Return d(outputs)/d(inputs) without touching any ``.grad``."""
    if is_grads_batched:
        raise NotImplementedError("grad(is_grads_batched=True) is not supported; loop over the batch")
    outs = _tensors(outputs, "outputs")
    ins = _tensors(inputs, "inputs")
    if allow_unused is None:
        allow_unused = materialize_grads
    if materialize_grads and allow_unused is False:
        raise ValueError("Expected allow_unused to be True or not passed when materialize_grads=True, "
                         "but got: allow_unused=False.")
    if retain_graph is None:
        retain_graph = create_graph
    input_edges = _input_edges(ins)
    edges = _root_edges(outs)
    grads = _make_grads(outs, grad_outputs, create_graph)
    result = run_backward(edges, grads, retain_graph, create_graph, input_edges, accumulate=False)
    out = []
    for t, g in zip(ins, result):
        if g is None:
            if not allow_unused:
                raise RuntimeError("One of the differentiated Tensors appears to not have been used in the "
                                   "graph. Set allow_unused=True if this is the desired behavior.")
            if materialize_grads:
                g = op("zeros_like")(t)
        out.append(g)
    return tuple(out)


def tensor_backward(self: Tensor, gradient=None, retain_graph: bool | None = None, create_graph: bool = False,
                    inputs=None) -> None:
    """``Tensor.backward``: ``backward`` with this tensor as the root."""
    backward(self, gradient, retain_graph=retain_graph, create_graph=create_graph, inputs=inputs)
