"""The communication engines behind ``ag.distributed``: MPI (mpi4py) for CPU tensors and
bootstrapping, NCCL (CuPy's binding) for CUDA tensors. Each imports its library on first use."""
