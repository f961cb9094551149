"""``ag.distributed``: process groups and collectives with PyTorch's names, on MPI and NCCL.

Launch with ``mpiexec -n N python script.py``; in the script::

    import autograd_gpu.distributed as dist
    dist.init_process_group("mpi")          # "nccl" for CUDA tensors
    dist.all_reduce(t, op=dist.ReduceOp.SUM)

Importing this package imports neither mpi4py nor CuPy; ``init_process_group`` does.
"""
from .collectives import (all_gather, all_gather_into_tensor, all_gather_object, all_reduce, all_to_all,
                          all_to_all_single, barrier, broadcast, broadcast_object_list, reduce, reduce_scatter,
                          reduce_scatter_tensor)
from .distributed_c10d import (Backend, GroupMember, ProcessGroup, ReduceOp, Work, default_pg_timeout,
                               destroy_process_group, get_backend, get_node_local_rank, get_rank, get_world_size,
                               init_process_group, is_available, is_initialized, is_mpi_available, is_nccl_available,
                               new_group)
from .errors import DistBackendError, DistError, RemoteRankError

__all__ = ["Backend", "GroupMember", "ProcessGroup", "ReduceOp", "Work", "DistError", "DistBackendError",
           "RemoteRankError", "init_process_group", "destroy_process_group", "is_available", "is_initialized",
           "is_mpi_available", "is_nccl_available", "get_rank", "get_world_size", "get_backend",
           "get_node_local_rank", "new_group", "barrier", "all_reduce", "reduce", "broadcast", "all_gather",
           "all_gather_into_tensor", "reduce_scatter", "reduce_scatter_tensor", "all_to_all", "all_to_all_single",
           "all_gather_object", "broadcast_object_list", "default_pg_timeout"]
