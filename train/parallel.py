"""Where training's arrays live: the one home of the device mesh and the sharding.

Data parallel over every visible JAX device: each batch is split by rows along the mesh's
'data' axis, the parameters and the optimizer state are replicated, and XLA inserts the
gradient all-reduce. Multi-process training (``jax.distributed``) would change only this
module: a mesh over the global devices, and ``shard_batch`` building each global batch from
the rows this process loaded (``jax.make_array_from_process_local_data``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

Tree = TypeVar("Tree")


@dataclass(frozen=True)
class DataParallel:
    mesh: Mesh  # one axis, 'data', over the devices that share each batch

    @staticmethod
    def over_visible_devices() -> DataParallel:
        return DataParallel(Mesh(np.array(jax.devices()), ("data",)))

    @property
    def row_multiple(self) -> int:
        """Batch rows must be a multiple of this to split evenly over the devices."""
        return int(self.mesh.size)

    def describe(self) -> str:
        devices = self.mesh.devices.ravel()
        return f"{len(devices)} {devices[0].platform} device(s)"

    def shard_batch(self, x: np.ndarray) -> jax.Array:
        """A host array [B, ...] -> a device array split by rows over the mesh."""
        sharding = NamedSharding(self.mesh, PartitionSpec("data"))  # type: ignore[no-untyped-call]
        out: jax.Array = jax.device_put(x, sharding)
        return out

    def replicate(self, tree: Tree) -> Tree:
        """Parameters or optimizer state -> one full copy on every device."""
        sharding = NamedSharding(self.mesh, PartitionSpec())  # type: ignore[no-untyped-call]
        out: Tree = jax.device_put(tree, sharding)
        return out
