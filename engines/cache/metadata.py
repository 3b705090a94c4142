"""Metadata sync in the background, with its progress in the Dataset's status.

The reference loads a UFS's metadata once, in the reconcile, and shows "[Calculating]" until it
is done, which for a big UFS can be hours or for ever. Here a pass starts the load as background
work (``lifecycle.engine.background``), the Dataset's ``MetadataSynced`` condition says that it runs and
for how long, and later passes collect the counts. The job's key is the Dataset's UID and
generation and the runtime's ``mountTime``: a spec change or a remount starts a fresh sync and the
old job's result is dropped. A condition that says "syncing" while no job of this process runs
means the operator restarted meanwhile, and the sync starts again. Synced counts are refreshed
every ``sync_intervals['sync_metadata']`` seconds (default 300) without disturbing the status.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from engines.cache.base import Cache
from engines.cache.commands import CacheCommandError
from engines.cache.report import with_cached_percentage
from lifecycle import Condition, find_condition, format_bytes, set_condition

METADATA_CONDITION = "MetadataSynced"
SYNCING, SYNCED, FAILED = "MetadataSyncing", "MetadataSynced", "MetadataSyncFailed"
CALCULATING = "[Calculating]"
DEFAULT_INTERVAL = 300.0
FIRST_LOOK = 2.0  # seconds: the pass after a start looks once whether a quick sync is done already
# Seconds of running at which the condition's message moves on, then every last step: a sync of
# hours writes a few times an hour, not every few seconds. The job's end wakes the pair itself.
PROGRESS_STEPS = (10, 20, 30, 60, 120, 300, 600)


def progress_step(running: float) -> tuple[int, int]:
    """The step of ``running`` seconds to show (0: not yet the first) and the step after it."""
    last = PROGRESS_STEPS[-1]
    if running >= last:
        shown = int(running // last * last)
        return shown, shown + last
    shown = max((s for s in PROGRESS_STEPS if s <= running), default=0)
    return shown, next(s for s in PROGRESS_STEPS if s > running)


def _parse(stamp: str | None) -> datetime | None:
    if not stamp:
        return None
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=None)


class MetadataSync:
    def __init__(self, engine: Cache):
        self.engine = engine
        self.ctx = engine.ctx

    # -- what to do this pass -------------------------------------------------------------------

    def applies(self) -> bool:
        ds, e = self.ctx.dataset, self.engine
        return (ds is not None and ds.status is not None and bool(ds.status.runtimes) and e.has_master
                and e.auto_sync and e.master_running())

    def key(self) -> tuple[str, str, str, int, str]:
        """The runtime first (so its shutdown can forget its jobs), then what makes a sync stale."""
        ds, rt = self.ctx.dataset, self.ctx.runtime
        assert ds is not None
        return ("metadata", rt.metadata.uid or "", ds.metadata.uid or "", ds.metadata.generation or 0,
                (rt.status.mount_time if rt.status else "") or "")

    def forget(self) -> None:
        """The runtime is shutting down: its running or finished syncs are of no use any more."""
        uid = self.ctx.runtime.metadata.uid or ""
        self.ctx.background.forget(lambda other: isinstance(other, tuple) and other[:2] == ("metadata", uid))

    def tick(self) -> None:
        """Start, follow or collect the sync of this pass's Dataset; called by every Sync."""
        if not self.applies():
            return
        key, bg = self.key(), self.ctx.background
        job = bg.job(key)
        if job is not None and not job.done():
            self.ctx.requeue_after(self._progress(job.running_since))
            return
        if job is not None:
            self._collect(key)
            return
        load = self._due()
        if load is not None:
            self._start(key, load)

    def _condition(self) -> Condition | None:
        ds = self.ctx.dataset
        assert ds is not None and ds.status is not None
        return find_condition(ds.status.conditions, METADATA_CONDITION)

    def _due(self) -> bool | None:
        """None: nothing to do now; otherwise whether the metadata must be loaded, not only counted."""
        ds, cond, now = self.ctx.dataset, self._condition(), self._now()
        assert ds is not None
        mounted = _parse(self.ctx.runtime.status.mount_time if self.ctx.runtime.status else None)
        updated = _parse(cond.last_update_time) if cond else None
        if cond is None or cond.observed_generation != ds.metadata.generation or cond.reason == SYNCING:
            return True  # never synced, spec changed, or a sync this process does not know (restart)
        if mounted is not None and updated is not None and updated < mounted:
            return True  # the cache remounted since: its metadata is gone
        last = self.ctx.background.finished_at(self.key()) or updated
        interval = float(dict(self.ctx.settings.get("sync_intervals", {})).get("sync_metadata", DEFAULT_INTERVAL))
        if last is not None and now - last.replace(tzinfo=None) < timedelta(seconds=interval):
            return None
        return cond.status != "True"

    # -- the three moments ----------------------------------------------------------------------

    def _start(self, key: tuple[str, str, str, int, str], load: bool) -> None:
        ds = self.ctx.dataset
        assert ds is not None and ds.status is not None
        paths = [m.effective_path for m in self.engine.ufs_mount_list()]
        engine = self.engine.for_background()
        self.ctx.background.start(key, lambda: engine.metadata(paths, load), self.ctx.now(),
                                  replaces=lambda other: isinstance(other, tuple) and other[:2] == key[:2],
                                  owner=(self.ctx.namespace, self.ctx.name), clock=self.ctx.now)
        cond = self._condition()
        retrying = cond is not None and cond.reason == FAILED and cond.observed_generation == ds.metadata.generation
        if load and not retrying:  # a retry keeps the failure in view until it succeeds or fails otherwise
            if not ds.status.ufs_total:
                ds.status.ufs_total = CALCULATING
            self._set("False", SYNCING, f"loading the metadata of {len(paths)} mounts: started")
        self.ctx.requeue_after(FIRST_LOOK)

    def _progress(self, running_since: datetime | None) -> float:
        """Show how long the sync has run, in steps; the seconds until the next step."""
        cond = self._condition()
        running = (self.ctx.now() - running_since).total_seconds() if running_since is not None else 0.0
        shown, following = progress_step(running)
        if cond is not None and cond.reason == SYNCING:  # a refresh of synced counts is silent
            if running_since is None:
                where = "waiting for a free worker"
            elif shown:
                where = f"running for {shown}s"
            else:
                where = "started"
            mounts = len(self.engine.ufs_mount_list())
            self._set("False", SYNCING, f"loading the metadata of {mounts} mounts: {where}")
        if running_since is None:
            return float(PROGRESS_STEPS[0])
        return following - running

    def _collect(self, key: tuple[str, str, str, int, str]) -> None:
        ds = self.ctx.dataset
        assert ds is not None and ds.status is not None
        mounts = len(self.engine.ufs_mount_list())
        try:
            files, size = self.ctx.background.collect(key, self.ctx.now())
        except (CacheCommandError, ValueError) as exc:
            if ds.status.ufs_total == CALCULATING:
                ds.status.ufs_total = None
            if self._set("False", FAILED, f"{exc}; tried again in the next metadata sync"):
                self.ctx.event("Warning", FAILED, f"{self.engine.ref}: {exc}")
            return
        if size is not None:
            ds.status.ufs_total = format_bytes(size)
            st = self.ctx.runtime.status
            if st is not None:  # the Cached Percentage column follows at once, not at the next status check
                st.cache_states = with_cached_percentage(st.cache_states, size)
        elif ds.status.ufs_total == CALCULATING:
            ds.status.ufs_total = None
        ds.status.file_num = str(files)
        shown = f", {format_bytes(size)}" if size is not None else ""
        self._set("True", SYNCED, f"{files} files{shown} in {mounts} mounts")

    def _set(self, status: str, reason: str, message: str) -> bool:
        ds = self.ctx.dataset
        assert ds is not None and ds.status is not None
        return set_condition(ds.status.conditions, Condition(
            type=METADATA_CONDITION, status=status, reason=reason, message=message,
            observed_generation=ds.metadata.generation), self.engine.now_iso())

    def _now(self) -> datetime:
        return self.ctx.now().replace(tzinfo=None)
