"""Anomaly detection switch: off by default, and then it costs one attribute read per op."""
from __future__ import annotations

import threading

_state = threading.local()
enabled = False  # process-wide, as in PyTorch


def is_anomaly_enabled() -> bool:
    return enabled


def set_detect_anomaly(mode: bool) -> None:
    global enabled
    enabled = bool(mode)


class detect_anomaly:
    """Context manager and decorator that turns anomaly detection on for its extent."""

    def __init__(self, check_nan: bool = True) -> None:
        self.check_nan = check_nan

    def __enter__(self):
        self._prev = enabled
        set_detect_anomaly(True)
        return self

    def __exit__(self, *exc) -> None:
        set_detect_anomaly(self._prev)

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def wrapper(*a, **k):
            with detect_anomaly(self.check_nan):
                return fn(*a, **k)
        return wrapper
