"""Array backends. ``numpy_backend`` always; ``cupy_backend`` and the ``cuda_*`` launcher modules
only when a CUDA device is used (``cuda_plan`` never imports CuPy)."""
