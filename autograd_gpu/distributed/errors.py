"""The errors of ``ag.distributed`` (PyTorch's names: ``torch.distributed.DistError`` and its kinds)."""
from __future__ import annotations

__all__ = ["DistError", "DistBackendError", "RemoteRankError"]


class DistError(RuntimeError):
    """An error of the distributed package."""


class DistBackendError(DistError):
    """A communication engine failed, timed out or saw another rank fail."""


class RemoteRankError(DistBackendError):
    """Another rank failed: ``rank`` is its rank in the world. This rank stops too; the job is aborted."""

    def __init__(self, message: str, rank: int) -> None:
        super().__init__(message)
        self.rank = rank
