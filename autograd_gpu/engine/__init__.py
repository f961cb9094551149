"""The backward engine: small, and ignorant of every op."""
from .api import backward, grad
from .engine import is_multithreading_enabled, run_backward, set_multithreading_enabled

__all__ = ["backward", "grad", "run_backward", "set_multithreading_enabled", "is_multithreading_enabled"]
