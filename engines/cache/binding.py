"""The Dataset as a cache runtime shows it: binding, the conditions that follow its phase, and the
cache figures and endpoint copied into its status."""

from __future__ import annotations

from engines.cache import mounts
from engines.cache.base import Cache
from engines.cache.metadata import CALCULATING
from lifecycle import Condition, HCFSStatus, ImplementBase, Mount, find_condition, from_json, set_condition


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


def update_dataset_status(e: Cache, phase: str) -> None:
    """The Dataset's conditions follow its phase: Ready while Bound, not while Failed, and Updating
    while changed mounts are applied."""
    ds = e.ctx.dataset
    if ds is None or ds.status is None or not ds.status.runtimes:
        return
    now, gen = e.now_iso(), ds.metadata.generation
    conditions = ds.status.conditions
    if phase == "Bound":
        set_condition(conditions, Condition(type="Ready", status="True", reason="DatasetReady",
                                            message="The ddc runtime is ready.", observed_generation=gen), now)
        if find_condition(conditions, "Updating") is not None:
            set_condition(conditions, Condition(type="Updating", status="False", reason="DatasetReady",
                                                message="The mounts are applied.", observed_generation=gen), now)
    elif phase == "Failed":
        set_condition(conditions, Condition(type="Ready", status="False", reason="DatasetFailed",
                                            message="The ddc runtime is not ready.", observed_generation=gen), now)
    elif phase == "Updating":
        set_condition(conditions, Condition(type="Updating", status="True", reason="DatasetUpdating",
                                            message="Applying the changed mounts.", observed_generation=gen), now)


def update_cache_of_dataset(e: Cache) -> None:
    ImplementBase.update_cache_of_dataset(e)
    ds = e.ctx.dataset
    if ds is not None and ds.status is not None and ds.status.runtimes:
        endpoint = e.hcfs_endpoint()
        if ds.status.hcfs is None or ds.status.hcfs.endpoint != endpoint:
            ds.status.hcfs = HCFSStatus(endpoint=endpoint)
