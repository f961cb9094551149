"""``ag.optim``: optimizers and ``lr_scheduler``."""
