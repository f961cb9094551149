"""The CPU backend: NumPy arrays, one device."""
from __future__ import annotations

import numpy as np

_U64 = 1 << 64


def fresh_seed() -> int:
    """A nondeterministic 63-bit seed (``torch.seed`` and unseeded generators)."""
    return int(np.random.SeedSequence().entropy % (1 << 63))


class CpuGenerator:
    """One CPU random stream: NumPy's PCG64 plus the seed it started from (``initial_seed``).

    Reseeding happens in place, so a ``Generator`` object that wraps this one stays valid after
    ``manual_seed``. NumPy's sampling methods are reached through attribute delegation."""

    device_type = "cpu"

    def __init__(self, seed: int | None = None) -> None:
        self.manual_seed(fresh_seed() if seed is None else seed)

    def manual_seed(self, seed: int) -> None:
        self.initial_seed = int(seed) % _U64
        self._np = np.random.Generator(np.random.PCG64(self.initial_seed))

    def __getattr__(self, name: str):
        try:
            gen = self.__dict__["_np"]
        except KeyError:   # during copy/unpickle, before __init__
            raise AttributeError(name) from None
        return getattr(gen, name)

    def philox(self, n: int) -> tuple[int, int]:
        """A (seed, offset) key for a counter-based draw of ``n`` numbers (dropout's masks):
        one draw from this stream, so ``manual_seed`` reproduces it."""
        return int(self._np.integers(0, 1 << 63)), 0

    def host_rng(self) -> np.random.Generator:
        return self._np

    def get_state(self) -> np.ndarray:
        """The state as bytes (PyTorch's ByteTensor state): seven little-endian uint64 words, the
        seed, PCG64's 128-bit state and increment, and its buffered 32-bit half. Plain numbers,
        never pickle: a state read from a checkpoint must not be able to run code."""
        st = self._np.bit_generator.state
        words = [self.initial_seed, *_split128(st["state"]["state"]), *_split128(st["state"]["inc"]),
                 int(st["has_uint32"]), int(st["uinteger"])]
        return np.array(words, dtype="<u8").view(np.uint8).copy()

    def set_state(self, state: np.ndarray) -> None:
        state = np.ascontiguousarray(state, np.uint8)
        if state.size != _STATE_BYTES:
            raise RuntimeError(f"Expected a CPU generator state of size {_STATE_BYTES} but found the input RNG "
                               f"state size to be {state.size}")
        seed, s_hi, s_lo, i_hi, i_lo, has32, u32 = (int(v) for v in state.view("<u8"))
        bg = np.random.PCG64()
        bg.state = {"bit_generator": "PCG64", "state": {"state": (s_hi << 64) | s_lo, "inc": (i_hi << 64) | i_lo},
                    "has_uint32": has32, "uinteger": u32}
        self.initial_seed, self._np = seed, np.random.Generator(bg)


_STATE_BYTES = 56


def _split128(v: int) -> tuple[int, int]:
    return (v >> 64) % _U64, v % _U64


class NumpyBackend:
    name = "numpy"
    xp = np

    def __init__(self) -> None:
        self._rng = CpuGenerator()

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
        self._rng.manual_seed(seed)

    def generator(self, index: int | None) -> CpuGenerator:
        """The default generator (one object for the process: reseeded in place)."""
        return self._rng

    def new_generator(self, index: int | None, seed: int | None = None) -> CpuGenerator:
        """A generator of its own (``ag.Generator()``); PyTorch's default seed when none is given."""
        return CpuGenerator(67280421310721 if seed is None else seed)
