"""Shutting a cache runtime down: clean the cache (bounded), then everything it put on the cluster.

Works without the master pod (there is no cache to clean) and without the Dataset (names and label
keys come from the runtime's namespace and name alone).
"""

from __future__ import annotations

from engines.cache import metadata, placement, render, status
from engines.cache.base import Cache
from engines.cache.commands import CacheCommandError
from lifecycle import CONFIG_MAP, DAEMON_SET, SERVICE, STATEFUL_SET


def shutdown(e: Cache) -> None:
    """Clean the cache, then node labels, workloads, services and ConfigMaps."""
    clean_cache(e)
    placement.remove_node_labels(e)
    e.delete(DAEMON_SET, e.object_name("fuse"))
    e.delete(STATEFUL_SET, e.object_name("worker"))
    e.delete(STATEFUL_SET, e.object_name("master"))
    for svc in e.gw.list(SERVICE, e.ns, labels=e.selector("master")):
        e.delete(SERVICE, svc["metadata"]["name"])
    for cm in e.gw.list(CONFIG_MAP, e.ns, labels=e.object_labels):
        e.delete(CONFIG_MAP, cm["metadata"]["name"])
    e.port_reservations.release(e.uid)
    render.forget(e.ctx.shared, e.uid)
    metadata.MetadataSync(e).forget()
    status.forget_reports(e)


def clean_cache(e: Cache) -> None:
    """Free the cache, retried up to maxRetryAttempts times (``ctx.attempts`` counts failed passes),
    each bounded by gracePeriodSeconds; then the cache is given up and deletion goes on."""
    if not e.has_master or not e.has_workers:
        return
    policy = e.clean_cache_policy
    grace, retries = policy.effective_grace_period_seconds, policy.effective_max_retry_attempts
    if grace == 0:
        return
    if not e.master_running():
        e.ctx.log.info("%s: no running master, so no cache to clean", e.ref)
        return
    if e.ctx.attempts > retries:
        return
    try:
        e.run(e.clean_cache_argv(), timeout=float(grace))
    except CacheCommandError as exc:
        if e.ctx.attempts >= retries:
            e.ctx.event("Warning", "CacheCleanAbandoned",
                        f"{exc}; gave up after {retries + 1} attempts (cleanCachePolicy.maxRetryAttempts={retries}); "
                        "deleting the runtime without cleaning its cache")
            return
        raise CacheCommandError(f"{exc}; attempt {e.ctx.attempts + 1} of {retries + 1} "
                                "(cleanCachePolicy.maxRetryAttempts)") from None
