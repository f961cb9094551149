"""Anomaly detection switch: off by default, and then it costs one attribute read per op.

When on, every node records the traceback of the forward call that created it
(``Function.apply``), and the engine checks each backward's outputs for NaN and
names the node and that traceback.
"""
from __future__ import annotations

import functools
import warnings

enabled = False    # process-wide, as in PyTorch; read by Function.apply and the engine
check_nan = True   # the engine's NaN check runs only when both flags are set


def is_anomaly_enabled() -> bool:
    return enabled


def is_anomaly_check_nan_enabled() -> bool:
    return check_nan


def _set(mode: bool, nan: bool) -> None:
    global enabled, check_nan
    enabled, check_nan = bool(mode), bool(nan)


class set_detect_anomaly:
    """Turn anomaly detection on or off now; as a context manager, restore the old mode on exit.

    Like PyTorch, the mode changes at construction, so a plain call works as a setter.
    """

    def __init__(self, mode: bool, check_nan: bool = True) -> None:
        self._prev = (enabled, globals()["check_nan"])
        _set(mode, check_nan)

    def __enter__(self) -> "set_detect_anomaly":
        return self

    def __exit__(self, *exc) -> None:
        _set(*self._prev)


class detect_anomaly:
    """Context manager and decorator that turns anomaly detection on for its extent."""

    def __init__(self, check_nan: bool = True) -> None:
        self.check_nan = check_nan
        warnings.warn("Anomaly Detection has been enabled. This mode will increase the runtime and should "
                      "only be enabled for debugging.", stacklevel=2)

    def __enter__(self) -> "detect_anomaly":
        self._prev = (enabled, check_nan)
        _set(True, self.check_nan)
        return self

    def __exit__(self, *exc) -> None:
        _set(*self._prev)

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*a, **k):
            prev = (enabled, check_nan)
            _set(True, self.check_nan)
            try:
                return fn(*a, **k)
            finally:
                _set(*prev)
        return wrapper
