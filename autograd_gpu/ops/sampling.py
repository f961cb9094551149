"""Random sampling: ``Generator``, ``multinomial``, ``bernoulli``, ``normal`` and the in-place samplers.

Every sampler draws from a backend generator (``creation._gen``): the device's default one, or an
``ag.Generator``'s. The draws are uniforms/normals/integers of that generator in the backend's
array module, transformed here (inverse CDFs, an exponential race for multinomial without
replacement), so one body serves CPU and CUDA. Poisson has no such transform: it is drawn on the
host from a NumPy generator keyed by the device generator. In-place samplers write through
``copy_``: version counter, leaf rule and history as any in-place op; no gradient flows through
the random values.
"""
from __future__ import annotations

import functools
import numbers

import numpy as np

from ..device import manual_seed as _seed_all
from ..tensor import Tensor
from .copy import resolve_device
from ._common import any_where, broadcast_shapes, on_device
from .creation import _fmt, _gen, _size, rand, randint, randn, unit_uniform
from .registry import export

_U64 = 1 << 64


@export(method=False)
class Generator:
    """PyTorch's ``torch.Generator``: a random stream of its own on one device, passed as ``generator=``."""

    def __init__(self, device="cpu") -> None:
        dev = resolve_device(device)
        self._dev = dev
        self._impl = dev.backend.new_generator(dev.index)

    @classmethod
    def _wrap(cls, dev, impl) -> "Generator":
        g = cls.__new__(cls)
        g._dev, g._impl = dev, impl
        return g

    @property
    def device(self):
        return self._dev

    def manual_seed(self, seed: int) -> "Generator":
        if isinstance(seed, bool) or not isinstance(seed, (numbers.Integral, np.integer)):
            raise TypeError(f"manual_seed expected a long, but got {type(seed).__name__}")
        self._impl.manual_seed(int(seed) % _U64)
        return self

    def seed(self) -> int:
        """Reseed from a nondeterministic source; returns the new seed."""
        s = int(np.random.SeedSequence().entropy % (1 << 63))
        self._impl.manual_seed(s)
        return s

    def initial_seed(self) -> int:
        return self._impl.initial_seed

    def get_state(self) -> Tensor:
        """The state as a CPU uint8 tensor (opaque; ``set_state`` restores it)."""
        return Tensor._make(self._impl.get_state(), resolve_device("cpu"))

    def set_state(self, new_state: Tensor) -> "Generator":
        if not isinstance(new_state, Tensor) or new_state._data.dtype != np.uint8:
            raise TypeError("RNG state must be a torch.ByteTensor")
        self._impl.set_state(np.asarray(new_state._host()))
        return self

    def __repr__(self) -> str:
        return f"<autograd_gpu.Generator object on {self._dev}>"


def _default_cpu() -> Generator:
    dev, impl = _gen("cpu")
    return Generator._wrap(dev, impl)


@export(method=False)
def seed() -> int:
    """Seed every device's default generator from a nondeterministic source; returns the seed."""
    s = int(np.random.SeedSequence().entropy % (1 << 63))
    _seed_all(s)
    return s


@export(method=False)
def get_rng_state() -> Tensor:
    """The default CPU generator's state (a uint8 tensor)."""
    return _default_cpu().get_state()


@export(method=False)
def set_rng_state(new_state: Tensor) -> None:
    _default_cpu().set_state(new_state)


# helpers -------------------------------------------------------------------------------------------
def _check_float(x: Tensor, kernel: str) -> None:
    if x._data.dtype.kind != "f":
        raise NotImplementedError(f'"{kernel}" not implemented for \'{x.dtype._torch_name}\'')


def _new(data, dev, npd) -> Tensor:
    xp = dev.backend.xp
    with on_device(dev):   # CuPy casts and copies on the current device: make it data's
        return Tensor._make(xp.ascontiguousarray(data.astype(npd, copy=False)), dev)


def _write(self: Tensor, data) -> Tensor:
    """``self.copy_(data)``: the in-place samplers' one way to write (version, leaf rule, history)."""
    return self.copy_(_new(data, self._device, self._data.dtype))


def _scalar(v) -> float:
    return v.item() if isinstance(v, Tensor) else v


# multinomial ---------------------------------------------------------------------------------------
@export
def multinomial(input: Tensor, num_samples: int, replacement: bool = False, *, generator=None) -> Tensor:
    """Indices drawn from the (unnormalised) rows of ``input``. With replacement: inverse CDF by a
    search of each uniform in the row's cumulative sums; without: the smallest ``num_samples`` of
    ``E_j / p_j`` (E exponential), which is sequential sampling without replacement."""
    if input.ndim not in (1, 2):
        raise RuntimeError("prob_dist must be 1 or 2 dim")
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"multinomial only supports floating-point dtypes for input, got: "
                           f"{input.dtype._torch_name}")
    cats = input.shape[-1]
    if not replacement and num_samples > cats:
        raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without replacement")
    if num_samples <= 0:
        raise RuntimeError("cannot sample n_sample <= 0 samples")
    dev, g = _gen(input._device, generator)
    xp = dev.backend.xp
    with on_device(input):   # CuPy allocates and launches on the current device: make it input's
        p = input._data.reshape(-1, cats).astype(np.float64)
        rows = p.shape[0]
        if rows == 0:
            return Tensor._make(xp.zeros(tuple(input.shape[:-1]) + (num_samples,), dtype=np.int64), dev)
        if bool((~xp.isfinite(p) | (p < 0)).any()):
            raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
        total = p.sum(axis=1)
        if bool((total <= 0).any()):
            raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
        if replacement:
            u = g.random((rows, num_samples), dtype=np.float64)
            cdf = xp.cumsum(p / total[:, None], axis=1)
            cdf[:, -1] = 1.0   # rounding must not leave a uniform above the last bin
            base = xp.arange(rows, dtype=np.float64)[:, None]
            idx = xp.searchsorted((cdf + 2 * base).ravel(), (u + 2 * base).ravel(), side="right").reshape(u.shape)
            out = xp.minimum(idx - (xp.arange(rows) * cats)[:, None], cats - 1)
        else:
            u = g.random((rows, cats), dtype=np.float64)
            with np.errstate(divide="ignore"):
                keys = -xp.log1p(-u) / p   # p = 0: key inf, drawn only after every positive category
            if num_samples == 1:
                out = xp.argmin(keys, axis=1)[:, None]
            else:
                out = xp.argsort(keys, axis=1)[:, :num_samples]
        out = out.astype(np.int64).reshape(tuple(input.shape[:-1]) + (num_samples,))
        return Tensor._make(xp.ascontiguousarray(out), dev)


# bernoulli, normal, poisson ---------------------------------------------------------------------------
def _check_p01(p, name: str = "bernoulli_") -> None:
    if not 0 <= p <= 1:
        raise RuntimeError(f"{name} expects p to be in [0, 1], but got p={_fmt(p)}")


@export
def bernoulli(input: Tensor, p: float | None = None, *, generator=None) -> Tensor:
    """1 with probability ``input`` (elementwise), or ``p`` for every element when given; ``input``'s dtype."""
    dev, g = _gen(input._device, generator)
    npd = input._data.dtype
    if p is None:
        if npd.kind != "f":
            raise NotImplementedError(f'"bernoulli_tensor_cpu_p_" not implemented for \'{input.dtype._torch_name}\'')
        probs = input._data
        if any_where(input, lambda a: (a < 0) | (a > 1)):
            raise RuntimeError("Expected p_in >= 0 && p_in <= 1 to be true, but got false.  (Could this error "
                               "message be improved?  If so, please report an enhancement request to PyTorch.)")
    else:
        p = _scalar(p)
        _check_p01(p)
        probs = p
    with on_device(dev):
        return _new(unit_uniform(g, tuple(input.shape), np.dtype(np.float64)) < probs, dev, npd)


@export(method=False)
def normal(mean, std=1.0, size=None, *, generator=None, dtype=None, device=None,
           requires_grad: bool = False) -> Tensor:
    """``mean + std * N(0, 1)`` with PyTorch's overloads: tensor mean and/or std (broadcast; the
    gradient reaches both, as PyTorch's), or float mean and std with ``size``."""
    if isinstance(mean, Tensor) or isinstance(std, Tensor):
        if size is not None:
            raise TypeError("normal() received an invalid combination of arguments: size is only accepted "
                            "with a float mean and a float std")
        ref = mean if isinstance(mean, Tensor) else std
        _check_float(ref, "normal_kernel_cpu")
        if isinstance(std, Tensor):
            if any_where(std, lambda a: a < 0):
                raise RuntimeError("normal expects all elements of std >= 0.0")
        elif std < 0:
            raise RuntimeError(f"normal expects std >= 0.0, but found std {_fmt(std)}")
        shape = broadcast_shapes(tuple(mean.shape), tuple(std.shape)) if isinstance(mean, Tensor) and \
            isinstance(std, Tensor) else tuple(ref.shape)
        eps = randn(shape, dtype=ref.dtype, device=ref._device, generator=generator)
        return mean + std * eps
    if size is None:
        raise TypeError("normal() missing 1 required positional argument: \"size\"")
    if std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {_fmt(std)}")
    size = _size((size,), "normal")
    out = randn(size, dtype=dtype, device=device, generator=generator)
    out = out.mul_(std).add_(mean) if (std != 1 or mean != 0) else out
    return out.requires_grad_(True) if requires_grad else out


@export(method=False)   # torch.poisson only; torch.Tensor has no poisson
def poisson(input: Tensor, generator=None) -> Tensor:
    """Poisson counts with rates ``input`` (``input``'s dtype; drawn on the host, see the module doc)."""
    _check_float(input, "poisson_cpu")
    dev, g = _gen(input._device, generator)
    rates = np.asarray(input._host(), dtype=np.float64)
    if (rates < 0).any() or np.isnan(rates).any():
        raise RuntimeError("invalid Poisson rate, expected rate to be non-negative")
    counts = g.host_rng().poisson(rates).astype(input._data.dtype)
    return Tensor._make(dev.backend.from_numpy(counts, dev.index) if dev.type != "cpu" else counts, dev)


# *_like ------------------------------------------------------------------------------------------------
@export(method=False)
def rand_like(input: Tensor, *, dtype=None, device=None, requires_grad: bool = False, generator=None) -> Tensor:
    return rand(tuple(input.shape), dtype=dtype or input.dtype, device=device or input._device,
                requires_grad=requires_grad, generator=generator)


@export(method=False)
def randn_like(input: Tensor, *, dtype=None, device=None, requires_grad: bool = False, generator=None) -> Tensor:
    return randn(tuple(input.shape), dtype=dtype or input.dtype, device=device or input._device,
                 requires_grad=requires_grad, generator=generator)


@export(method=False)
def randint_like(input: Tensor, low: int = 0, high: int | None = None, *, dtype=None, device=None,
                 requires_grad: bool = False, generator=None) -> Tensor:
    if high is None:
        low, high = 0, low
    out = randint(low, high, tuple(input.shape), dtype=dtype or input.dtype, device=device or input._device,
                  generator=generator)
    return out.requires_grad_(True) if requires_grad else out


# in-place samplers -------------------------------------------------------------------------------------
def _on_self_device(fill):
    """An in-place sampler whose draws and transforms run with ``self``'s device current (CuPy
    allocates and launches on the current device, which need not be ``self``'s)."""
    @functools.wraps(fill)
    def run(self: Tensor, *args, **kwargs) -> Tensor:
        with on_device(self):
            return fill(self, *args, **kwargs)
    return run


def _float_draw(self: Tensor, generator, kernel: str):
    _check_float(self, kernel)
    dev, g = _gen(self._device, generator)
    return dev, g, dev.backend.xp


@export(function=False)
@_on_self_device
def uniform_(self: Tensor, from_: float = 0, to: float = 1, *, generator=None, **kw) -> Tensor:
    """Fill with U[from, to) (PyTorch's keyword is ``from``, a Python keyword: passed through ``**kw``)."""
    from_ = kw.pop("from", from_)
    if from_ > to:
        raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found from={_fmt(from_)} > "
                           f"to={_fmt(to)}")
    dev, g, xp = _float_draw(self, generator, "check_uniform_bounds")
    return _write(self, unit_uniform(g, tuple(self.shape), self._data.dtype) * (to - from_) + from_)


@export(function=False)
@_on_self_device
def normal_(self: Tensor, mean: float = 0, std: float = 1, *, generator=None) -> Tensor:
    if std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {_fmt(std)}")
    dev, g, xp = _float_draw(self, generator, "normal_kernel_cpu")
    d = self._data.dtype if self._data.dtype.itemsize >= 4 else np.dtype(np.float32)
    return _write(self, g.standard_normal(tuple(self.shape), dtype=d) * std + mean)


@export(function=False)
@_on_self_device
def bernoulli_(self: Tensor, p=0.5, *, generator=None) -> Tensor:
    """Fill with 1 with probability ``p`` (a float, or a tensor broadcast to ``self``), else 0."""
    dev, g = _gen(self._device, generator)
    if isinstance(p, Tensor):
        probs = p._data
        if any_where(p, lambda a: (a < 0) | (a > 1)):
            raise RuntimeError("Expected p_in >= 0 && p_in <= 1 to be true, but got false.  (Could this error "
                               "message be improved?  If so, please report an enhancement request to PyTorch.)")
    else:
        _check_p01(p)
        probs = p
    return _write(self, unit_uniform(g, tuple(self.shape), np.dtype(np.float64)) < probs)


@export(function=False)
def random_(self: Tensor, from_: int = 0, to: int | None = None, *, generator=None, **kw) -> Tensor:
    """Fill with integers in [from, to); ``random_(to)`` is [0, to); no bound: [0, 2**mantissa] for
    floats, [0, max] for integers."""
    from_ = kw.pop("from", from_)
    npd = self._data.dtype
    if to is None:
        if from_ != 0:
            from_, to = 0, from_
        elif npd.kind == "f":
            to = 2 ** (np.finfo(npd).nmant + 1) + 1
        elif npd.kind == "b":
            to = 2
        else:
            to = int(np.iinfo(npd).max) + 1
    if from_ >= to:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={from_} >= to={to}")
    dev, g = _gen(self._device, generator)
    return _write(self, g.integers(int(from_), int(to), size=tuple(self.shape)))


@export(function=False)
@_on_self_device
def exponential_(self: Tensor, lambd: float = 1, *, generator=None) -> Tensor:
    if not lambd > 0:
        raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={_fmt(lambd)}")
    dev, g, xp = _float_draw(self, generator, "exponential_cpu")
    return _write(self, -xp.log1p(-g.random(tuple(self.shape), dtype=np.float64)) / lambd)


@export(function=False)
@_on_self_device
def geometric_(self: Tensor, p: float, *, generator=None) -> Tensor:
    """Trials until the first success: ``ceil(log(1 - u) / log(1 - p))``, at least 1."""
    if not 0 < p < 1:
        raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={_fmt(p)}")
    dev, g = _gen(self._device, generator)
    xp = dev.backend.xp
    u = g.random(tuple(self.shape), dtype=np.float64)
    return _write(self, xp.maximum(xp.ceil(xp.log1p(-u) / np.log1p(-p)), 1))


@export(function=False)
@_on_self_device
def log_normal_(self: Tensor, mean: float = 1, std: float = 2, *, generator=None) -> Tensor:
    if not std > 0:
        raise RuntimeError(f"log_normal_ expects std > 0.0, but found std={_fmt(std)}")
    dev, g, xp = _float_draw(self, generator, "log_normal_cpu")
    return _write(self, xp.exp(g.standard_normal(tuple(self.shape), dtype=np.float64) * std + mean))


@export(function=False)
@_on_self_device
def cauchy_(self: Tensor, median: float = 0, sigma: float = 1, *, generator=None) -> Tensor:
    if not sigma > 0:
        raise RuntimeError(f"cauchy_ expects sigma > 0.0, but found sigma={_fmt(sigma)}")
    dev, g, xp = _float_draw(self, generator, "cauchy_cpu")
    u = g.random(tuple(self.shape), dtype=np.float64)
    return _write(self, median + sigma * xp.tan(np.pi * (u - 0.5)))

