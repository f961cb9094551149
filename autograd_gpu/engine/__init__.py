"""The backward engine: small, and ignorant of every op."""
from .engine import is_multithreading_enabled, run_backward, set_multithreading_enabled

__all__ = ["run_backward", "set_multithreading_enabled", "is_multithreading_enabled"]
