"""``python -m autograd_gpu``: the ``autograd-gpu`` command (``train``, ``info``, ``bench``)."""
import sys

from .cli import main

sys.exit(main())
