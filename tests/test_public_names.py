"""``ag.*`` exports only public names: PyTorch's top-level functions, dtypes and subpackages.

A method-only op (``view``, ``add_``) or a layer module (``ops``, ``engine``) reachable as
``ag.X`` would be an API we never promised, and a user porting code would meet it nowhere else.
"""
from __future__ import annotations

import types

import pytest

import autograd_gpu as ag
from autograd_gpu.ops import registry

PUBLIC_MODULES = {"autograd", "cuda", "distributed", "nn", "optim", "utils"}
# Tensor-only in PyTorch: no torch.<name> function exists for these
METHOD_ONLY = ["getitem", "setitem", "contiguous", "copy_", "expand", "expand_as", "view", "view_as", "reshape_as",
               "repeat", "add_", "sub_", "mul_", "div_", "atan2_", "arctan2_", "erfinv_", "fmod_", "copysign_",
               "lerp_", "bitwise_and_", "bitwise_or_", "bitwise_xor_", "bitwise_not_", "bitwise_left_shift_",
               "bitwise_right_shift_", "index_add_", "index_copy_", "index_fill_", "masked_fill_", "scatter_",
               "scatter_add_", "scatter_reduce_"]


def test_all_is_exactly_the_public_names():
    names = set(ag.__all__)
    assert len(names) == len(ag.__all__) and all(hasattr(ag, n) for n in names)
    assert not [n for n in names if n.startswith("_")]
    assert {"annotations", "ops", "engine", "dispatch", "api", "printing", "dtypes", "backends"}.isdisjoint(names)
    modules = {n for n in names if isinstance(getattr(ag, n), types.ModuleType)}
    assert modules == PUBLIC_MODULES
    # the ops, the dtypes and the grad modes are all there
    assert {"exp", "exp_", "relu_", "clamp_", "matmul", "float32", "long", "Tensor", "no_grad", "save"} <= names


def test_star_import_binds_all_and_nothing_else():
    ns: dict = {}
    exec("from autograd_gpu import *", ns)
    assert set(ns) - {"__builtins__"} == set(ag.__all__)


@pytest.mark.parametrize("name", METHOD_ONLY)
def test_method_only_ops_are_not_functions(name):
    assert name not in ag.__all__ and not hasattr(ag, name) and name not in registry.FUNCTIONS
    if name not in ("getitem", "setitem"):
        assert callable(getattr(ag.Tensor, name))


def test_method_only_inplace_still_works_and_function_inplace_too():
    x = ag.tensor([1.0, 2.0])
    x.add_(1).mul_(2).lerp_(ag.tensor([0.0, 0.0]), 0.5)
    assert x.tolist() == [2.0, 3.0]
    y = ag.tensor([0.0, 1.0])
    assert ag.exp_(y) is y and y.tolist()[0] == 1.0
    assert ag.Tensor.exp_ is ag.exp_


def test_public_names_match_pytorch():
    torch = pytest.importorskip("torch")
    assert [n for n in ag.__all__ if not hasattr(torch, n)] == []
    assert [n for n in dir(ag.Tensor) if not n.startswith("_") and not hasattr(torch.Tensor, n)] == []
    assert [n for n in ag.nn.functional.__all__ if not hasattr(torch.nn.functional, n)] == []
