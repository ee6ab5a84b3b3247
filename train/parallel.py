"""Where training's arrays live: the one home of the processes, the device mesh and the
sharding.

Data parallel over every JAX device of every process: each global batch is split by rows
along the mesh's 'data' axis, the parameters and the optimizer state are replicated, and
XLA inserts the gradient all-reduce (across processes too: gloo over TCP on CPU, NCCL on
GPU, ICI on TPU). With several processes (``jax.distributed``, one per host or per
accelerator group), every process runs the same program on the same global arrays; each
builds only its own rows of a batch (``shard_batch``: ``jax.make_array_from_process_local_data``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TypeVar

import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec

Tree = TypeVar("Tree")
T = TypeVar("T", int, float, bool)

COORDINATOR_ENV = "JAX_COORDINATOR_ADDRESS"  # read by jax.distributed.initialize itself


def join_processes(
    coordinator: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    auto: bool = False,
) -> bool:
    """Join a multi-process run (``jax.distributed.initialize``) when one is asked for: a
    coordinator address, a process count or id (flags), ``$JAX_COORDINATOR_ADDRESS``, or
    ``auto`` (let JAX detect Slurm, Open MPI, Cloud TPU or a Kubernetes job). What is not
    given JAX takes from that environment. Must run before any other JAX call. Returns
    whether a multi-process run was joined."""
    asked = (
        auto
        or coordinator is not None
        or num_processes is not None
        or process_id is not None
        or bool(os.environ.get(COORDINATOR_ENV))
    )
    if not asked:
        return False
    if num_processes is not None and num_processes < 1:
        raise ValueError(f"num_processes must be at least 1, got {num_processes}")
    if process_id is not None and process_id < 0:
        raise ValueError(f"process_id must be at least 0, got {process_id}")
    if num_processes is not None and process_id is not None and process_id >= num_processes:
        raise ValueError(
            f"process_id must be below num_processes ({num_processes}), got {process_id}"
        )
    if coordinator is not None and ":" not in coordinator:
        raise ValueError(f"coordinator must be host:port, got {coordinator!r}")
    jax.distributed.initialize(
        coordinator_address=coordinator, num_processes=num_processes, process_id=process_id
    )
    return True


@dataclass(frozen=True)
class DataParallel:
    mesh: Mesh  # one axis, 'data', over the devices of all processes, process by process

    @staticmethod
    def over_visible_devices() -> DataParallel:
        """A mesh over every device of every process (after ``join_processes``, if any).
        Devices are ordered process by process, so this process's rows of a batch are one
        contiguous block (``local_rows``)."""
        devices = sorted(jax.devices(), key=lambda d: (d.process_index, d.id))
        return DataParallel(Mesh(np.array(devices), ("data",)))

    @property
    def process_index(self) -> int:
        return int(jax.process_index())

    @property
    def process_count(self) -> int:
        return int(jax.process_count())

    @property
    def is_main(self) -> bool:
        """Process 0 writes the checkpoints, logs and the model file; the others only train."""
        return self.process_index == 0

    @property
    def row_multiple(self) -> int:
        """Global batch rows must be a multiple of this to split evenly over the devices."""
        return int(self.mesh.size)

    def describe(self) -> str:
        devices = self.mesh.devices.ravel()
        return f"{len(devices)} {devices[0].platform} device(s) in {self.process_count} process(es)"

    def local_rows(self, x: np.ndarray) -> np.ndarray:
        """This process's rows of a global host batch [B, ...] (B a multiple of
        ``row_multiple``): the block that ``shard_batch`` expects from it."""
        if x.shape[0] % self.row_multiple:
            raise ValueError(
                f"batch rows must be a multiple of {self.row_multiple}, got {x.shape[0]}"
            )
        per = x.shape[0] // self.process_count
        return x[self.process_index * per : (self.process_index + 1) * per]

    def shard_batch(self, local: np.ndarray) -> jax.Array:
        """This process's rows [B / processes, ...] -> the global device array [B, ...]
        split by rows over the mesh. With one process, the rows are the whole batch."""
        sharding = NamedSharding(self.mesh, PartitionSpec("data"))  # type: ignore[no-untyped-call]
        out: jax.Array = jax.make_array_from_process_local_data(sharding, local)  # type: ignore[no-untyped-call]
        return out

    def replicate(self, tree: Tree) -> Tree:
        """Parameters or optimizer state (the same values in every process) -> one full
        copy on every device."""
        sharding = NamedSharding(self.mesh, PartitionSpec())  # type: ignore[no-untyped-call]
        out: Tree = jax.device_put(tree, sharding)
        return out

    def gather(self, x: jax.Array) -> np.ndarray:
        """A global array split by rows -> the whole of it, in every process."""
        if self.process_count == 1:
            return np.asarray(x)
        return np.asarray(multihost_utils.process_allgather(x, tiled=True))

    def agree(self, value: T) -> T:
        """Process 0's ``value`` in every process: decisions taken from a clock (the
        schedule's length, the end of the time budget) must be the same everywhere, or the
        processes would run different programs and wait for each other forever."""
        if self.process_count == 1:
            return value
        out = multihost_utils.broadcast_one_to_all(np.asarray(value))
        return type(value)(out.item())

    def total(self, x: np.ndarray) -> np.ndarray:
        """The sum over processes of a small host array (counts, feature sums)."""
        if self.process_count == 1:
            return x
        gathered = np.asarray(multihost_utils.process_allgather(x, tiled=False))
        summed: np.ndarray = gathered.sum(axis=0)
        return summed
