"""The runtime's status, read from the live StatefulSets and DaemonSet, never from memory.

``check_and_update_runtime_status`` is the reference's check-and-update hook: it records the
component counts, phases and conditions it reads (the runtime table marks it as a guard that
writes) and says whether the runtime is ready. The cache's figures (capacity, use, hit ratios) come
from the cache system's report, refreshed while the master is ready and kept when it cannot answer.
The report is a command run in the master, so it runs at most once per
``settings['sync_intervals']['cache_report']`` seconds per runtime (default ``CACHE_REPORT_INTERVAL``: Fluid
refreshes its figures about as often); between reports the recorded figures stand. Only the first
report runs in the pass; later ones run as background work (``SHORT_LANE``) and the pair's next
pass takes the figures, so a scale or a lost workload is never queued behind a report's commands.
"""

from __future__ import annotations

from datetime import datetime

import attrs

from engines.cache import report, ufs
from engines.cache.base import Cache
from engines.cache.commands import CacheCommandError
from engines.cache.objects import spec_replicas, status_int
from lifecycle import (
    DAEMON_SET,
    SHORT_LANE,
    STATEFUL_SET,
    ComponentPhase,
    Condition,
    Obj,
    RuntimeStatus,
    common_label,
    component_phase,
    find_condition,
    find_volume,
    runtime_ready,
    set_condition,
)

CACHE_REPORT_INTERVAL = 120.0
REPORTED_AT = "cache-reported-at"  # EngineContext.shared: runtime UID -> time of its last report
REPORT_JOB = "cache-report"  # the background job's key: (REPORT_JOB, runtime UID)


def check_and_update_runtime_status(e: Cache) -> bool:
    rt = e.ctx.runtime
    st = rt.status if rt.status is not None else RuntimeStatus()
    now = e.now_iso()
    st.value_file = e.values_name
    master, (m_desired, m_ready) = _master_counts(e, st)
    worker, (w_desired, w_ready) = _worker_counts(e, st)
    fuse = _fuse_counts(e, st, now, scale_events=rt.status is not None)
    fuses_ready = e.fuse_ready()
    st.selector = ",".join(f"{k}={v}" for k, v in e.selector("worker").items()) if e.has_workers else None
    st.cache_affinity = {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": common_label(e.key), "operator": "In",
                               "values": ["true"]}]}]}} if e.has_workers else None
    e.status_extras(st)

    if e.has_master:
        master_ok = master is not None and m_ready >= max(m_desired, 1)
        ready = master_ok and runtime_ready(m_desired, m_ready, w_desired, w_ready)
    else:
        master_ok = ready = fuse is not None and fuses_ready
    workers_ok = w_desired == 0 or w_ready >= 1

    st.conditions = list(st.conditions or [])
    if e.has_master:
        _initialized(st, "MasterInitialized", master_ok, "The master is initialized.", now)
        _ready_condition(st, "MasterReady", master_ok, f"{m_ready} of {m_desired} masters ready.", now)
    if e.has_workers:
        _initialized(st, "WorkersInitialized", worker is not None and workers_ok, "The workers are initialized.", now)
        _ready_condition(st, "WorkersReady", workers_ok, f"{w_ready} of {w_desired} workers ready.", now)
    if e.has_fuse:
        _initialized(st, "FusesInitialized", fuse is not None, "The fuse is initialized.", now)
        _ready_condition(st, "FusesReady", fuse is not None and fuses_ready,
                         f"{st.fuse_number_ready} of {st.desired_fuse_number_scheduled} fuses ready.", now)

    if ready and not st.setup_duration:
        created = report.parse_time(rt.metadata.creation_timestamp)
        if created is not None:
            st.setup_duration = report.go_duration((e.ctx.now() - created).total_seconds())
    if master_ok:
        _refresh_cache_states(e, st)
    rt.status = st
    return ready


def _master_counts(e: Cache, st: RuntimeStatus) -> tuple[Obj | None, tuple[int, int]]:
    master = e.get(STATEFUL_SET, e.object_name("master")) if e.has_master else None
    desired = (spec_replicas(master) if master else e.master_replicas) if e.has_master else 0
    ready = status_int(master, "readyReplicas")
    st.desired_master_number_scheduled = desired
    st.current_master_number_scheduled = status_int(master, "replicas")
    st.master_number_ready = ready
    st.master_phase = component_phase(desired, ready)
    return master, (desired, ready)


def _worker_counts(e: Cache, st: RuntimeStatus) -> tuple[Obj | None, tuple[int, int]]:
    worker = e.get(STATEFUL_SET, e.object_name("worker")) if e.has_workers else None
    desired, ready = e.replicas, status_int(worker, "readyReplicas")
    available = status_int(worker, "availableReplicas")
    st.desired_worker_number_scheduled = desired
    st.current_worker_number_scheduled = status_int(worker, "replicas")
    st.worker_number_ready = ready
    st.worker_number_available = available
    st.worker_number_unavailable = max(desired - available, 0)
    st.worker_phase = component_phase(desired, ready)
    return worker, (desired, ready)


def _fuse_counts(e: Cache, st: RuntimeStatus, now: str, scale_events: bool) -> Obj | None:
    fuse = e.get(DAEMON_SET, e.object_name("fuse")) if e.has_fuse else None
    desired, ready = status_int(fuse, "desiredNumberScheduled"), status_int(fuse, "numberReady")
    if fuse is not None and scale_events:
        # The fuse runs where pods use the volume (the CSI plugin labels those nodes), so its count
        # follows the workload.
        scaled(e, st, "Fuses", st.desired_fuse_number_scheduled, desired, now)
    st.desired_fuse_number_scheduled = desired
    st.current_fuse_number_scheduled = status_int(fuse, "currentNumberScheduled")
    st.fuse_number_ready = ready
    st.fuse_number_available = status_int(fuse, "numberAvailable")
    st.fuse_number_unavailable = status_int(fuse, "numberUnavailable")
    # The reference always shows the fuse Ready (its pods start lazily, per node); a fuse-only
    # runtime is nothing but its fuse, so there the phase tells the truth.
    st.fuse_phase = ComponentPhase.READY.value if e.has_master else component_phase(desired if fuse else 1, ready)
    return fuse


def scaled(e: Cache, st: RuntimeStatus, component: str, before: int, after: int, now: str,
           note: str = "") -> None:
    """``<component>ScaledOut``/``ScaledIn``, condition and event, when a count moved."""
    if before == after:
        return
    direction = "out" if after > before else "in"
    kind = f"{component}Scaled{direction.capitalize()}"
    message = f"The {component.lower()} are scaled {direction} from {before} to {after}."
    st.conditions = list(st.conditions or [])
    set_condition(st.conditions, Condition(type=kind, status="True", reason=kind, message=message), now,
                  stamp="last_probe_time")
    e.ctx.event("Normal", kind, f"{e.ref}: {message}{note}")


def _initialized(st: RuntimeStatus, type_: str, ok: bool, message: str, now: str) -> None:
    """Written once, when first true, and never updated (as the reference)."""
    assert st.conditions is not None
    if ok and find_condition(st.conditions, type_) is None:
        st.conditions.append(Condition(type=type_, status="True", reason=type_, message=message,
                                       last_probe_time=now, last_transition_time=now))


def _ready_condition(st: RuntimeStatus, type_: str, ok: bool, message: str, now: str) -> None:
    assert st.conditions is not None
    reason = type_ if ok else type_.replace("Ready", "NotReady")
    set_condition(st.conditions, Condition(type=type_, status="True" if ok else "False", reason=reason,
                                           message=message), now, stamp="last_probe_time")


def _refresh_cache_states(e: Cache, st: RuntimeStatus) -> None:
    """The first report runs in the pass (setup writes the figures with the rest); later ones run in
    the background and a later pass takes their figures, so a pass never waits for the commands
    while a user's change to the same pair is queued behind it."""
    if not e.has_workers:
        # Nothing caches: say so instead of leaving the columns empty.
        st.cache_states = {"cached": "0.00B", "cacheCapacity": "0.00B"}
        return
    key, bg = _report_key(e), e.ctx.background
    job = bg.job(key)
    if job is not None and not job.done():
        return
    if job is None and st.cache_states:
        if _report_due(e) and bg.has_room(SHORT_LANE):  # else: still due at the next pass
            # No owner to wake: the pair's next pass (its resync, within a minute) takes the figures,
            # instead of a pass of its own for each report.
            detached = e.for_background()
            bg.start(key, lambda: _report(detached), e.ctx.now(), lane=SHORT_LANE)
        return
    # Tried now, whatever comes of it: the next report is due an interval later.
    e.ctx.shared.setdefault(REPORTED_AT, {})[_uid(e)] = e.ctx.now()
    try:
        cache = bg.collect(key, e.ctx.now()) if job is not None else _report(e)
    except (CacheCommandError, ValueError) as exc:
        e.ctx.log.warning("cache report of %s unavailable, keeping the last one: %s", e.ref, exc)
        return
    ds = e.ctx.dataset
    total = report.ufs_total_bytes(ds.status.ufs_total) if ds and ds.status else None
    st.cache_states = report.cache_states(cache, total)


def _report(e: Cache) -> report.CacheReport:
    """The cache's report. Before the Dataset's volume exists nothing can have read through the
    cache: its counters are zero, known without asking (for Alluxio, a command less per setup)."""
    unread = find_volume(e.gw, e.ctx.volume).pvc is None
    cache = e.cache_report(hits=not unread)
    if unread and cache.hits is None and e.REPORTS_HITS:
        cache = attrs.evolve(cache, hits=report.HitCounters())
    return cache


def _report_key(e: Cache) -> tuple[str, str]:
    return (REPORT_JOB, _uid(e))


def forget_reports(e: Cache) -> None:
    """The runtime is shutting down: its report job and pacing are of no use any more."""
    uid = _uid(e)
    e.ctx.background.forget(lambda key: key == (REPORT_JOB, uid))
    e.ctx.shared.get(REPORTED_AT, {}).pop(uid, None)


def _uid(e: Cache) -> str:
    return e.ctx.runtime.metadata.uid or e.ref


def _report_due(e: Cache) -> bool:
    """Whether this runtime's last report (in this process) is older than the interval."""
    last: datetime | None = e.ctx.shared.get(REPORTED_AT, {}).get(_uid(e))
    interval = float(dict(e.ctx.settings.get("sync_intervals", {})).get("cache_report", CACHE_REPORT_INTERVAL))
    return last is None or (e.ctx.now() - last).total_seconds() >= interval


# -- the reference's storage hooks -------------------------------------------------------------


def used_storage_bytes(e: Cache) -> int:
    return e.cache_report(hits=False).used if e.has_workers else 0


def free_storage_bytes(e: Cache) -> int:
    if not e.has_workers:
        return 0
    cache = e.cache_report(hits=False)
    return max(cache.capacity - cache.used, 0)


def ufs_figures(e: Cache) -> tuple[int, int]:
    """Files and bytes of the Dataset's UFS mounts, as the cache system counts them."""
    if not e.has_master:
        return 0, 0
    files, size = e.metadata([m.effective_path for _, m in ufs.ufs_mounts(e.ctx.dataset)], load=False)
    return files, size or 0
