"""Thread-local grad mode: ``no_grad`` on one thread never affects another."""
from __future__ import annotations

import functools
import threading

class _State(threading.local):
    """Per-thread modes; class attributes are each new thread's defaults, so reads need no getattr."""
    enabled = True
    inference = False


_state = _State()


def is_grad_enabled() -> bool:
    return _state.enabled


def _set(mode: bool) -> None:
    _state.enabled = mode


def is_inference_mode_enabled() -> bool:
    return _state.inference


class _Mode:
    """Base for context managers that double as decorators."""

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__(*self._args):
                return fn(*args, **kwargs)
        return wrapper

    _args: tuple = ()

    def __enter__(self):
        self._prev = is_grad_enabled()
        _set(self._mode)
        return self

    def __exit__(self, *exc) -> None:
        _set(self._prev)


class no_grad(_Mode):
    _mode = False

    def __new__(cls, fn=None):
        self = super().__new__(cls)
        if callable(fn):  # bare @no_grad
            return self(fn)
        return self

    def __init__(self, fn=None) -> None:
        pass


class enable_grad(no_grad):
    _mode = True


class set_grad_enabled(_Mode):
    def __init__(self, mode: bool) -> None:
        self._args = (mode,)
        self._mode = bool(mode)
        self._prev = is_grad_enabled()
        _set(self._mode)  # also works as a plain function call, as in PyTorch

    def __call__(self, fn):
        _set(self._prev)  # as a decorator, the mode applies only inside the call
        return super().__call__(fn)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        _set(self._prev)


class inference_mode(_Mode):
    """Like ``no_grad``; tensors made inside are plain tensors (no separate inference flag).

    ``inference_mode(False)`` leaves grad mode alone, as in PyTorch (it does not enable grad).
    """

    def __new__(cls, mode=True):
        self = super().__new__(cls)
        if callable(mode):
            self.__init__(True)
            return self(mode)
        return self

    def __init__(self, mode: bool = True) -> None:
        self._args = (mode,)
        self._inference = bool(mode)

    def __enter__(self):
        self._prev_inf = is_inference_mode_enabled()
        self._prev = is_grad_enabled()
        _state.inference = self._inference
        if self._inference:
            _set(False)
        return self

    def __exit__(self, *exc) -> None:
        _state.inference = self._prev_inf
        _set(self._prev)
