"""The CPU backend: NumPy arrays, one device."""
from __future__ import annotations

import numpy as np


class NumpyBackend:
    name = "numpy"
    xp = np

    def __init__(self) -> None:
        self._rng = np.random.default_rng()

    def device_count(self) -> int:
        return 1

    def set_device(self, index: int) -> None:
        pass

    def from_numpy(self, arr: np.ndarray, index: int | None) -> np.ndarray:
        return arr

    def to_numpy(self, arr: np.ndarray) -> np.ndarray:
        return arr

    def to_device(self, arr: np.ndarray, index: int | None) -> np.ndarray:
        return arr

    def synchronize(self, index: int | None) -> None:
        pass

    def as_strided(self, arr: np.ndarray, offset: int, shape: tuple, strides: tuple) -> np.ndarray:
        """The view of C-contiguous ``arr`` at element ``offset`` with element ``strides``."""
        isz = arr.itemsize
        return np.lib.stride_tricks.as_strided(arr.reshape(-1)[offset:], shape, tuple(st * isz for st in strides))

    def storage_key(self, arr: np.ndarray) -> int:
        """Identity of the allocation an array views (views of one buffer share it). ``as_strided``
        puts a non-array holder between a view and its base: look through it too."""
        while True:
            b = arr.base
            if not isinstance(b, np.ndarray):
                b = getattr(b, "base", None)
                if not isinstance(b, np.ndarray):
                    return id(arr)
            arr = b

    def manual_seed(self, seed: int) -> None:
        self._rng = np.random.default_rng(seed)

    def generator(self, index: int | None) -> np.random.Generator:
        return self._rng
