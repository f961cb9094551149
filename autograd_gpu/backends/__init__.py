"""Array backends. ``numpy_backend`` always; ``cupy_backend`` only when a CUDA device is used."""
