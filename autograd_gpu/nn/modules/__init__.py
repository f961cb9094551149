"""The layers of ``ag.nn``, one module per family as in PyTorch's ``torch/nn/modules``."""
from .activation import (CELU, ELU, GELU, SELU, Hardsigmoid, Hardswish, Hardtanh, LeakyReLU, LogSigmoid, LogSoftmax,
                         Mish, ReLU, ReLU6, Sigmoid, SiLU, Softmax, Softmin, Softplus, Softsign, Tanh)
from .container import Sequential
from .module import Module

__all__ = ["Module", "Sequential", "ReLU", "ReLU6", "Sigmoid", "Tanh", "GELU", "SiLU", "Softplus", "LeakyReLU", "ELU",
           "CELU", "SELU", "Mish", "Hardtanh", "Hardsigmoid", "Hardswish", "LogSigmoid", "Softsign", "Softmax",
           "LogSoftmax", "Softmin"]
