"""``ag.cuda``: is a CUDA device usable here, how many, and waiting for them."""
from __future__ import annotations

from .device import Device, backend_available, current_index, get_backend, set_current_index
from .dispatch import OutOfMemoryError  # noqa: F401 - ag.cuda.OutOfMemoryError, as torch.cuda's


def is_available() -> bool:
    """False, never an exception, when CuPy, the driver or a GPU is missing."""
    return backend_available("cuda")


def device_count() -> int:
    try:
        return get_backend("cuda").device_count()
    except RuntimeError:
        return 0


def unavailable_reason() -> str | None:
    """Why CUDA cannot be used here (no CuPy / no device / driver error), or None."""
    try:
        n = get_backend("cuda").device_count()
    except RuntimeError as e:
        return str(e)
    return None if n else "no CUDA device is visible (check CUDA_VISIBLE_DEVICES and the driver)"


def current_device() -> int:
    get_backend("cuda")
    return current_index("cuda")


def set_device(device) -> None:
    d = Device(device) if not isinstance(device, int) else Device("cuda", device)
    set_current_index("cuda", d.index or 0)


def synchronize(device=None) -> None:
    b = get_backend("cuda")
    if device is None:
        idx = current_index("cuda")
    elif isinstance(device, int):
        idx = device
    else:
        idx = Device(device).index or 0
    b.synchronize(idx)


def get_device_name(device=None) -> str:
    idx = 0 if device is None else (device if isinstance(device, int) else Device(device).index or 0)
    return get_backend("cuda").device_name(idx)
