"""The corpus of ``autograd-gpu train``: characters of text found on this machine (by default the
Python standard library's own ``.py`` files; nothing is downloaded), a character vocabulary, a
train/validation split, and random windows of it as batches."""
from __future__ import annotations

import sysconfig
from pathlib import Path

import numpy as np

from ..ops.creation import from_numpy, randint
from ..tensor import Tensor


def default_corpus_files(max_bytes: int = 4_000_000) -> list[Path]:
    """The standard library's top-level ``.py`` files, sorted, up to ``max_bytes`` in all."""
    root = Path(sysconfig.get_paths()["stdlib"])
    files, total = [], 0
    for f in sorted(root.glob("*.py")):
        size = f.stat().st_size
        if total + size > max_bytes:
            break
        files.append(f)
        total += size
    if not files:
        raise FileNotFoundError(f"no Python source files found under {root} to train on; pass --text FILE")
    return files


def read_text(files: list[Path]) -> str:
    """The files' contents joined by newlines (undecodable bytes replaced)."""
    return "\n".join(Path(f).read_text(encoding="utf-8", errors="replace") for f in files)


class CharCorpus:
    """Text as int64 token ids over its sorted set of characters; 90% train, 10% validation."""

    def __init__(self, text: str, vocab: list[str] | None = None, val_fraction: float = 0.1) -> None:
        if len(text) < 2:
            raise ValueError("the training text needs at least 2 characters")
        self.chars = vocab if vocab is not None else sorted(set(text))
        self.stoi = {c: i for i, c in enumerate(self.chars)}
        unknown = set(text) - set(self.stoi)
        if unknown:
            raise ValueError(f"the text has {len(unknown)} characters outside the checkpoint's vocabulary")
        ids = np.fromiter((self.stoi[c] for c in text), dtype=np.int64, count=len(text))
        n_val = int(len(ids) * val_fraction)
        self.train, self.val = ids[:len(ids) - n_val], ids[len(ids) - n_val:]

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, s: str) -> list[int]:
        return [self.stoi[c] for c in s if c in self.stoi]

    def decode(self, ids) -> str:
        return "".join(self.chars[i] for i in ids)

    def batch(self, split: str, batch_size: int, block_size: int, device, generator=None) -> tuple[Tensor, Tensor]:
        """``batch_size`` random windows: inputs and the same shifted by one (the targets)."""
        data = self.train if split == "train" else self.val
        if len(data) <= block_size + 1:
            raise ValueError(f"the {split} split has {len(data)} characters, too few for windows of "
                             f"{block_size + 1}; use a longer text or a smaller --block-size")
        starts = randint(0, len(data) - block_size - 1, (batch_size,), generator=generator).numpy()
        rows = starts[:, None] + np.arange(block_size + 1)
        win = data[rows]
        x, y = from_numpy(np.ascontiguousarray(win[:, :-1])), from_numpy(np.ascontiguousarray(win[:, 1:]))
        return x.to(device), y.to(device)
