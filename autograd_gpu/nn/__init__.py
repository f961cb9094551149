"""``ag.nn``: for now the functional forms; layers, losses and init arrive with the training stack."""
from . import functional

__all__ = ["functional"]
