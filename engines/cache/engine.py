"""``CacheEngine``: every hook of the lifecycle contract for a master/worker/fuse cache runtime.

A cache system (Alluxio, Jindo, ...) subclasses it and supplies what ``CacheSystem`` declares
(``engines.cache.system``). This class only says which part answers which hook; the parts are
modules of their own, one per concern, as the reference splits its engines:

* ``workloads``: setting up master and workers, following spec.replicas and spec changes;
* ``mounts``: the cache's mount table against the Dataset's mounts;
* ``status`` and ``health``: what the live objects say, and whether setup must run again;
* ``binding``, ``placement``, ``metadata``: the Dataset's status, node labels, the UFS's size;
* ``teardown`` and ``checks``: deleting it all again, and the spec checks.

Objects are rendered (``render``) and applied only when their hash differs from the live one, so an
idle pass writes nothing and spec changes roll out in place; status comes from the live objects,
never from memory; commands run in the master pod as argument vectors (``commands``).
"""

from __future__ import annotations

from engines.cache import binding, checks, health, metadata, mounts, placement, status, teardown, workloads
from engines.cache.base import CacheBase, CompT, SpecT
from lifecycle import create_volume, delete_volume


class CacheEngine(CacheBase[SpecT, CompT]):
    # -- setup -------------------------------------------------------------------------------------

    def should_setup_master(self) -> bool:
        return workloads.should_setup_master(self)

    def setup_master(self) -> None:
        workloads.setup_master(self)

    def check_master_ready(self) -> bool:
        return workloads.check_master_ready(self)

    def should_check_ufs(self) -> bool:
        return mounts.should_check_ufs(self)

    def prepare_ufs(self) -> None:
        mounts.reconcile_mounts(self)

    def should_setup_workers(self) -> bool:
        return workloads.should_setup_workers(self)

    def setup_workers(self) -> None:
        workloads.setup_workers(self)

    def check_workers_ready(self) -> bool:
        return workloads.check_workers_ready(self)

    def assign_nodes_to_cache(self, desired: int) -> int:
        return workloads.assign_nodes_to_cache(self, desired)

    def check_and_update_runtime_status(self) -> bool:
        return status.check_and_update_runtime_status(self)

    # -- the Dataset and the volume ----------------------------------------------------------------

    def bind_to_dataset(self) -> None:
        binding.bind_to_dataset(self)

    def update_cache_of_dataset(self) -> None:
        binding.update_cache_of_dataset(self)

    def create_volume(self) -> None:
        ds = self.ctx.dataset
        if ds is None:
            raise RuntimeError(f"{self.ref}: the Dataset {self.ns}/{self.name} is gone; recreate it to get a volume")
        create_volume(self.ctx.owner, ds, self.ctx.volume, self.name, self.fuse_path, self.mount_type)

    def delete_volume(self) -> None:
        delete_volume(self.ctx.owner, self.ctx.volume)

    # -- sync --------------------------------------------------------------------------------------

    def sync_metadata(self) -> None:
        """Start, follow or collect the background metadata sync (see engines.cache.metadata)."""
        metadata.MetadataSync(self).tick()

    def sync_replicas(self) -> None:
        workloads.sync_replicas(self)

    def sync_runtime(self) -> bool:
        return workloads.sync_runtime(self)

    def check_runtime_healthy(self) -> bool:
        return health.check_runtime_healthy(self)

    def should_sync_dataset_mounts(self) -> bool:
        return mounts.should_sync_dataset_mounts(self)

    def sync_dataset_mounts(self) -> None:
        mounts.sync_dataset_mounts(self)

    def should_update_ufs(self) -> bool:
        return mounts.should_update_ufs(self)

    def update_on_ufs_change(self) -> None:
        mounts.update_on_ufs_change(self)

    def sync_schedule_info_to_cache_nodes(self) -> None:
        placement.sync_schedule_info_to_cache_nodes(self)

    # -- teardown, storage figures, checks ---------------------------------------------------------

    def shutdown(self) -> None:
        teardown.shutdown(self)

    def used_storage_bytes(self) -> int:
        return status.used_storage_bytes(self)

    def free_storage_bytes(self) -> int:
        return status.free_storage_bytes(self)

    def total_storage_bytes(self) -> int:
        return status.ufs_figures(self)[1]

    def total_file_nums(self) -> int:
        return status.ufs_figures(self)[0]

    def validate(self) -> None:
        checks.validate(self)
