"""The Dataset as a cache runtime shows it: binding, and the cache figures and endpoint copied into
its status (the conditions that follow its phase are every engine's: ``ImplementBase``)."""

from __future__ import annotations

from engines.cache import mounts
from engines.cache.base import Cache
from engines.cache.metadata import CALCULATING
from lifecycle import HCFSStatus, ImplementBase, Mount, from_json


def bind_to_dataset(e: Cache) -> None:
    """The reference's binding, plus the mounts the cache really applied, the HCFS endpoint and, while
    metadata is loaded, ``ufsTotal: [Calculating]``."""
    ImplementBase.bind_to_dataset(e)
    ds = e.ctx.dataset
    assert ds is not None and ds.status is not None
    applied = mounts.applied_records(e)
    if applied is not None:
        ds.status.mounts = [from_json(Mount, m, f"{e.ref} status.mounts") for m in applied]
    ds.status.hcfs = HCFSStatus(endpoint=e.hcfs_endpoint())
    if e.has_master and e.auto_sync and not ds.status.ufs_total:
        ds.status.ufs_total = CALCULATING


def update_cache_of_dataset(e: Cache) -> None:
    ImplementBase.update_cache_of_dataset(e)
    ds = e.ctx.dataset
    if ds is not None and ds.status is not None and ds.status.runtimes:
        endpoint = e.hcfs_endpoint()
        if ds.status.hcfs is None or ds.status.hcfs.endpoint != endpoint:
            ds.status.hcfs = HCFSStatus(endpoint=endpoint)
