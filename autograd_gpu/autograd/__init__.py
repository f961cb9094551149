"""``ag.autograd``'s core: Function, grad modes, anomaly mode, the graph's nodes and hooks.

``backward``, ``grad`` (the engine's entry points), ``gradcheck`` and ``functional`` sit in
higher layers and are bound into this namespace by ``autograd_gpu.api``.
"""
from __future__ import annotations

from .anomaly import detect_anomaly, is_anomaly_check_nan_enabled, is_anomaly_enabled, set_detect_anomaly
from .function import Function, once_differentiable
from .grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from .graph import Node, gradient_edge

__all__ = ["backward", "grad", "Function", "once_differentiable", "no_grad", "enable_grad",
           "set_grad_enabled", "inference_mode", "is_grad_enabled", "set_detect_anomaly", "detect_anomaly",
           "is_anomaly_enabled", "is_anomaly_check_nan_enabled", "set_multithreading_enabled",
           "is_multithreading_enabled", "gradcheck", "gradgradcheck", "GradcheckError", "Node"]
