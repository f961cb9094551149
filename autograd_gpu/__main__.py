"""``python -m autograd_gpu``: the ``autograd-gpu`` command (devices, then a small training run)."""
import sys

from .cli import main

sys.exit(main())
