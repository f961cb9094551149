"""The benchmark suite: ``python -m benchmarks`` (or ``autograd-gpu bench``); ``--list`` names the
workloads.

- ``runner.py``: the command line, the table of workloads, one subprocess per workload that needs
  a fresh process, the NVML sampler, the progress bar.
- ``common.py``: the measurement (warm-up, interleaved samples, rotated inputs,
  ``cupyx.profiler.benchmark`` on CUDA) and ``Row``, one result with its ratio to PyTorch, % of
  the limit and target.
- ``environment.py``: device, driver, library versions and git commit; ``report.py``: the
  terminal table, results.json, report.md and ratios.png.
- one module per workload (``per_op_overhead.py``, ``elementwise.py``, ...), each with
  ``run(cfg) -> [Row]``; ``train_models.py`` and ``numpy_models.py`` hold the three training-step
  models (for autograd_gpu and PyTorch, and written by hand in NumPy).

Not part of the wheel: the package runs from a checkout (or the Docker image's copy).
Importing it loads nothing heavy: the runner sets thread variables before NumPy loads.
"""
