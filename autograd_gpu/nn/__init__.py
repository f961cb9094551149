"""``ag.nn``: the functional forms, ``Parameter``, ``Module`` and the layers built on it (PyTorch's
module names: ``nn/parameter.py``, ``nn/modules/<family>.py``)."""
from . import functional, init, utils
from . import parallel
from .modules import *  # noqa: F401,F403 - the layers, listed in modules.__all__
from .modules import __all__ as _modules_all
from .parameter import Parameter

__all__ = ["functional", "init", "utils", "Parameter", *_modules_all]
