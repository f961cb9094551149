"""Higher-level derivatives of whole functions: vjp, jvp, jacobian, hessian, vhp, hvp.

Built only on ``autograd.grad``, like PyTorch's ``torch.autograd.functional``:
forward-mode products use the double-backward trick (a vjp is linear in its vector,
so differentiating it with respect to that vector gives the jvp). Inputs are
re-leafed before ``func`` runs, so nothing accumulates into a user's ``.grad``;
results are detached unless ``create_graph=True``. Return structures follow
PyTorch: a Tensor where the user passed a Tensor, a tuple where they passed a tuple.
"""
from __future__ import annotations

from typing import Callable

from ..autograd.function import Function
from ..autograd.grad_mode import enable_grad
from ..engine.api import grad
from ..ops import movedim, ones_like, reshape, stack, zeros, zeros_like
from ..tensor import Tensor

__all__ = ["vjp", "jvp", "jacobian", "hessian", "vhp", "hvp"]


class _Alias(Function):
    """Identity that stays in the graph (PyTorch uses ``view_as``): gradients flow back to the original."""
    node_name = "AliasBackward0"

    @staticmethod
    def forward(ctx, x):
        return x   # Function.apply turns a returned input into a new tensor sharing its data

    @staticmethod
    def backward(ctx, g):
        return g


# structure helpers ------------------------------------------------------------------------
def _as_tuple(x, arg_name: str, fn_name: str) -> tuple[bool, tuple]:
    is_tuple = isinstance(x, (tuple, list))
    xs = tuple(x) if is_tuple else (x,)
    for i, el in enumerate(xs):
        if not isinstance(el, Tensor):
            if is_tuple:
                raise TypeError(f"The {arg_name} given to {fn_name} must be either a Tensor or a tuple of Tensors "
                                f"but the value at index {i} has type {type(el).__name__}.")
            raise TypeError(f"The {arg_name} given to {fn_name} must be either a Tensor or a tuple of Tensors "
                            f"but the given {arg_name} has type {type(el).__name__}.")
    return is_tuple, xs


def _tuple_postprocess(res, to_unpack):
    """Undo the tuple-wrapping: ``to_unpack`` is is_tuple (or a pair for nested results)."""
    if isinstance(to_unpack, tuple):
        if not to_unpack[1]:
            res = tuple(el[0] for el in res)
        if not to_unpack[0]:
            res = res[0]
    elif not to_unpack:
        res = res[0]
    return res


def _grad_preprocess(inputs: tuple, create_graph: bool, need_graph: bool) -> tuple:
    """Fresh leaves (or graph-connected aliases under create_graph) for ``func`` to run on."""
    res = []
    for inp in inputs:
        if create_graph and inp.requires_grad:
            res.append(_Alias.apply(inp))
        else:
            res.append(inp.detach().requires_grad_(need_graph))
    return tuple(res)


def _grad_postprocess(xs: tuple, create_graph: bool) -> tuple:
    if create_graph:
        return xs
    return tuple(x.detach() if x is not None else None for x in xs)


def _validate_v(v: tuple, other: tuple, is_other_tuple: bool) -> None:
    if len(other) != len(v):
        if is_other_tuple:
            raise RuntimeError(f"v is a tuple of invalid length: should be {len(other)} but got {len(v)}.")
        raise RuntimeError("The given v should contain a single Tensor.")
    for idx, (el_v, el_other) in enumerate(zip(v, other)):
        if el_v.shape != el_other.shape:
            prepend = f"Entry {idx} in " if len(other) > 1 else ""
            raise RuntimeError(f"{prepend}v has invalid size: should be {tuple(el_other.shape)} but got "
                               f"{tuple(el_v.shape)}.")


def _check_requires_grad(xs: tuple, kind: str, strict: bool) -> None:
    if not strict:
        return
    for i, x in enumerate(xs):
        if x is None:
            raise RuntimeError(f"The output of the user-provided function is independent of input {i}. This is "
                               "not allowed in strict mode.")
        if not x.requires_grad:
            if kind == "outputs":
                raise RuntimeError(f"Output {i} of the user-provided function does not require gradients. The "
                                   "outputs must be computed in a differentiable manner from the input when "
                                   "running in strict mode.")
            raise RuntimeError(f"The jacobian of the user-provided function with respect to input {i} is "
                               "independent of the input. This is not allowed in strict mode.")


def _autograd_grad(outputs: tuple, inputs: tuple, grad_outputs: tuple | None = None,
                   create_graph: bool = False, retain_graph: bool | None = None) -> tuple:
    """``autograd.grad`` that tolerates outputs without a graph (their inputs get None)."""
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    outs, gos = [], []
    for o, g in zip(outputs, grad_outputs):
        if o is not None and o.requires_grad:
            outs.append(o)
            gos.append(g)
    if not outs:
        return (None,) * len(inputs)
    return grad(outs, inputs, gos, retain_graph=retain_graph, create_graph=create_graph, allow_unused=True)


def _fill_in_zeros(grads: tuple, refs: tuple, strict: bool, stage: str) -> tuple:
    res = []
    for i, (g, r) in enumerate(zip(grads, refs)):
        if g is None:
            if strict:
                if stage == "back":
                    raise RuntimeError(f"The output of the user-provided function is independent of input {i}. "
                                       "This is not allowed in strict mode.")
                if stage == "back_trick":
                    raise RuntimeError(f"The gradient with respect to the input is independent of entry {i} in "
                                       "the grad_outputs when using the double backward trick to compute "
                                       "forward mode gradients. This is not allowed in strict mode.")
                if stage == "double_back":
                    raise RuntimeError(f"The jacobian of the user-provided function is independent of input {i}. "
                                       "This is not allowed in strict mode.")
                raise RuntimeError(f"The hessian of the user-provided function is independent of entry {i} in the "
                                   "grad_jacobian. This is not allowed in strict mode as it prevents from using "
                                   "the double backward trick to replace forward mode AD.")
            g = zeros_like(r)
        res.append(g)
    return tuple(res)


def _single_element(outputs: tuple, fn_name: str) -> None:
    if len(outputs) != 1:
        raise RuntimeError(f"The function given to {fn_name} should return a single Tensor")
    if not isinstance(outputs[0], Tensor) or outputs[0].numel() != 1:
        raise RuntimeError(f"The Tensor returned by the function given to {fn_name} should contain a single "
                           "element")


# public API ---------------------------------------------------------------------------------
def vjp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(inputs), v^T J)``: one backward pass."""
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
        inputs = _grad_preprocess(inputs, create_graph, need_graph=True)
        outputs = func(*inputs)
        is_outputs_tuple, outputs = _as_tuple(outputs, "outputs of the user-provided function", "vjp")
        _check_requires_grad(outputs, "outputs", strict)
        if v is not None:
            _, v = _as_tuple(v, "v", "vjp")
            v = _grad_preprocess(v, create_graph, need_graph=False)
            _validate_v(v, outputs, is_outputs_tuple)
        elif len(outputs) != 1 or outputs[0].numel() != 1:
            raise RuntimeError("The vector v can only be None if the user-provided function returns a single "
                               "Tensor with a single element.")
        grads = _autograd_grad(outputs, inputs, v, create_graph=create_graph)
        vjp_ = _fill_in_zeros(grads, inputs, strict, "back")
    outputs = _grad_postprocess(outputs, create_graph)
    vjp_ = _grad_postprocess(vjp_, create_graph)
    return _tuple_postprocess(outputs, is_outputs_tuple), _tuple_postprocess(vjp_, is_inputs_tuple)


def _inputs_and_v(inputs, v, create_graph: bool, fn_name: str):
    """Inputs made differentiable, and ``v`` checked against them (None only for one scalar input,
    where it means ones)."""
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", fn_name)
    inputs = _grad_preprocess(inputs, create_graph, need_graph=True)
    if v is not None:
        _, v = _as_tuple(v, "v", fn_name)
        v = _grad_preprocess(v, create_graph, need_graph=False)
        _validate_v(v, inputs, is_inputs_tuple)
    elif len(inputs) != 1 or inputs[0].numel() != 1:
        raise RuntimeError("The vector v can only be None if the input to the user-provided function is a "
                           "single Tensor with a single element.")
    else:
        v = (ones_like(inputs[0]),)
    return is_inputs_tuple, inputs, v


def jvp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(inputs), J v)`` by the double-backward trick: d/du (u^T J) v = J v."""
    with enable_grad():
        is_inputs_tuple, inputs, v = _inputs_and_v(inputs, v, create_graph, "jvp")
        outputs = func(*inputs)
        is_outputs_tuple, outputs = _as_tuple(outputs, "outputs of the user-provided function", "jvp")
        _check_requires_grad(outputs, "outputs", strict)
        jvp_ = _back_trick(outputs, inputs, v, create_graph, strict, "back_trick",
                           lambda grad_inputs: _check_requires_grad(grad_inputs, "grad_inputs", strict))
    outputs = _grad_postprocess(outputs, create_graph)
    jvp_ = _grad_postprocess(jvp_, create_graph)
    return _tuple_postprocess(outputs, is_outputs_tuple), _tuple_postprocess(jvp_, is_outputs_tuple)


def _back_trick(ys: tuple, xs: tuple, v: tuple, create_graph: bool, strict: bool, stage: str, check) -> tuple:
    """J v for J = dys/dxs with reverse passes only: u^T J is linear in a dummy u, so
    d/du (u^T J) v = J v. ``check`` sees u^T J before the second pass."""
    u = tuple(zeros_like(y).requires_grad_(True) for y in ys)
    back = _autograd_grad(ys, xs, u, create_graph=True)
    check(back)
    return _fill_in_zeros(_autograd_grad(back, u, v, create_graph=create_graph), ys, strict, stage)


def _one_hot(out, k: int):
    e = zeros_like(out)
    e._data.reshape(-1)[k] = 1   # zeros_like is contiguous, so reshape is a view
    return e


def _stack_rows(rows: list, out_shape: tuple, in_shape: tuple, like):
    """Rows d out[k] / d in (each ``in_shape``) into a Tensor of shape ``out_shape + in_shape``."""
    if not rows:
        return zeros(*(tuple(out_shape) + tuple(in_shape)), dtype=like.dtype, device=like.device)
    if len(rows) == 1 and not out_shape:
        return rows[0]
    return reshape(stack(rows), tuple(out_shape) + tuple(in_shape))


def jacobian(func: Callable, inputs, create_graph: bool = False, strict: bool = False, vectorize: bool = False,
             strategy: str = "reverse-mode"):
    """d outputs / d inputs: entry [i][j] has shape ``outputs[i].shape + inputs[j].shape``.

    Reverse mode runs one backward per output element; forward mode one double-backward
    jvp per input element (cheaper when inputs are fewer than outputs). ``vectorize`` is
    accepted for compatibility; rows are computed one by one either way.
    """
    if strategy not in ("forward-mode", "reverse-mode"):
        raise ValueError('Expected strategy to be either "forward-mode" or "reverse-mode". Hint: If your '
                         'function has more outputs than inputs, "forward-mode" tends to be more performant. '
                         'Otherwise, prefer to use "reverse-mode".')
    if strategy == "forward-mode":
        if create_graph:
            raise NotImplementedError("torch.autograd.functional.jacobian: `create_graph=True` and "
                                      "`strategy=\"forward-mode\"` are not supported together (yet). Please "
                                      "either set `create_graph=False` or `strategy=\"reverse-mode\"`.")
        return _jacobian_forward(func, inputs, strict)
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
        inputs = _grad_preprocess(inputs, create_graph, need_graph=True)
        outputs = func(*inputs)
        is_outputs_tuple, outputs = _as_tuple(outputs, "outputs of the user-provided function", "jacobian")
        _check_requires_grad(outputs, "outputs", strict)
        jac = []
        for i, out in enumerate(outputs):
            rows: list[list] = [[] for _ in inputs]
            for k in range(out.numel()):
                grads = _autograd_grad((out,), inputs, (_one_hot(out, k),), retain_graph=True,
                                       create_graph=create_graph)
                for j, (g, inp) in enumerate(zip(grads, inputs)):
                    if g is None:
                        if strict:
                            raise RuntimeError(f"Output {i} of the user-provided function is independent of "
                                               f"input {j}. This is not allowed in strict mode.")
                        g = zeros_like(inp)
                    rows[j].append(g)
            jac.append(tuple(_stack_rows(r, out.shape, inp.shape, inp) for r, inp in zip(rows, inputs)))
        jac = tuple(_grad_postprocess(row, create_graph) for row in jac)
    return _tuple_postprocess(jac, (is_outputs_tuple, is_inputs_tuple))


def _jacobian_forward(func: Callable, inputs, strict: bool):
    """Columns J e_k by jvp: one per input element."""
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
    cols: dict = {}
    outputs = None
    for j, inp in enumerate(inputs):
        for k in range(inp.numel()):
            v = tuple(_one_hot(x, k) if jj == j else zeros_like(x) for jj, x in enumerate(inputs))
            outputs, jv = jvp(func, inputs, v, strict=strict)
            jv = jv if isinstance(jv, tuple) else (jv,)
            for i, c in enumerate(jv):
                cols.setdefault((i, j), []).append(c)
    if outputs is None:  # every input is empty: one call to learn the outputs' shapes
        outputs = func(*inputs)
    is_outputs_tuple = isinstance(outputs, tuple)
    outputs = outputs if is_outputs_tuple else (outputs,)
    jac = []
    for i, out in enumerate(outputs):
        row = []
        for j, inp in enumerate(inputs):
            c = cols.get((i, j))
            shape = tuple(out.shape) + tuple(inp.shape)
            if not c:
                row.append(zeros(*shape, dtype=inp.dtype, device=inp.device))
                continue
            m = stack(c)                                  # (in_numel, *out_shape)
            row.append(reshape(movedim(m, 0, -1), shape) if out.ndim else reshape(m, shape))
        jac.append(tuple(row))
    return _tuple_postprocess(tuple(jac), (is_outputs_tuple, is_inputs_tuple))


def hessian(func: Callable, inputs, create_graph: bool = False, strict: bool = False, vectorize: bool = False,
            outer_jacobian_strategy: str = "reverse-mode"):
    """Second derivatives of a scalar function: entry [i][j] has shape ``inputs[i].shape + inputs[j].shape``."""
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")
    if outer_jacobian_strategy not in ("forward-mode", "reverse-mode"):
        raise ValueError('Expected strategy to be either "forward-mode" or "reverse-mode".')

    def ensure_single_output_function(*inp):
        out = func(*inp)
        is_out_tuple, t_out = _as_tuple(out, "outputs of the user-provided function", "hessian")
        _check_requires_grad(t_out, "outputs", strict)
        if is_out_tuple:
            raise RuntimeError("The function given to hessian should return a single Tensor")
        if out.numel() != 1:
            raise RuntimeError("The Tensor returned by the function given to hessian should contain a single "
                               "element")
        return out.reshape(()) if out.ndim else out

    def jac_func(*inp):
        return jacobian(ensure_single_output_function, inp, create_graph=True)

    res = jacobian(jac_func, inputs, create_graph=create_graph, strict=strict, vectorize=vectorize,
                   strategy=outer_jacobian_strategy)
    return _tuple_postprocess(res, (is_inputs_tuple, is_inputs_tuple))


def _gradient_of_scalar(func: Callable, inputs, v, create_graph: bool, strict: bool, fn_name: str) -> tuple:
    """vhp/hvp's first pass (under enable_grad): checked inputs and ``v``, the one-element output,
    and its gradient kept differentiable."""
    is_inputs_tuple, inputs, v = _inputs_and_v(inputs, v, create_graph, fn_name)
    outputs = func(*inputs)
    _, outputs = _as_tuple(outputs, "outputs of the user-provided function", fn_name)
    _single_element(outputs, fn_name)
    _check_requires_grad(outputs, "outputs", strict)
    jac = _autograd_grad(outputs, inputs, create_graph=True)
    _check_requires_grad(jac, "jacobian", strict)
    return is_inputs_tuple, inputs, v, outputs, jac


def vhp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(inputs), v^T H)``: backward of the gradient, two reverse passes."""
    with enable_grad():
        is_inputs_tuple, inputs, v, outputs, jac = _gradient_of_scalar(func, inputs, v, create_graph, strict, "vhp")
        grad_res = _autograd_grad(jac, inputs, v, create_graph=create_graph)
        vhp_ = _fill_in_zeros(grad_res, inputs, strict, "double_back")
    outputs = _grad_postprocess(outputs, create_graph)
    vhp_ = _grad_postprocess(vhp_, create_graph)
    return _tuple_postprocess(outputs, False), _tuple_postprocess(vhp_, is_inputs_tuple)


def hvp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(inputs), H v)`` with the double-backward trick (no symmetry of H assumed)."""
    with enable_grad():
        is_inputs_tuple, inputs, v, outputs, jac = _gradient_of_scalar(func, inputs, v, create_graph, strict, "hvp")
        hvp_ = _back_trick(jac, inputs, v, create_graph, strict, "double_back_trick",
                           lambda _: _check_requires_grad(jac, "hessian", strict))
    outputs = _grad_postprocess(outputs, create_graph)
    hvp_ = _grad_postprocess(hvp_, create_graph)
    return _tuple_postprocess(outputs, False), _tuple_postprocess(hvp_, is_inputs_tuple)
