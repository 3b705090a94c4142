"""The cache's mount table kept equal to the Dataset's mounts: at setup, on a spec change, after a
master restart, on a rotated Secret, and when it drifts.

``status.mounts`` of the runtime records what the cache serves (spec fields only, no secret value),
``status.mountTime`` since when, and ``status.mountSecretVersions`` which versions of the Secrets
the options were read from. Mounts the runtime did not make are left alone; ours that the Dataset no
longer lists are unmounted; changed ones are mounted again.
"""

from __future__ import annotations

import copy
from typing import Any

from engines.cache import metadata, render, ufs
from engines.cache.base import Cache
from engines.cache.commands import CacheCommandError
from engines.cache.system import MountedUFS
from engines.cache.ufs import ResolvedMount
from lifecycle import Mount, RuntimeStatus, from_json, scheme_of, to_json

Records = list[dict[str, Any]]


def desired_ufs_records(e: Cache) -> Records:
    return [to_json(m) for _, m in ufs.ufs_mounts(e.ctx.dataset)]


def applied_records(e: Cache) -> Records | None:
    st = e.ctx.runtime.status
    return st.mounts if st is not None else None


def applied_ufs_records(e: Cache) -> Records:
    return [m for m in applied_records(e) or [] if scheme_of(m.get("mountPoint", "")) not in ufs.NATIVE_SCHEMES]


def record_mounts(e: Cache, mounts: list[Mount], secret_versions: dict[str, str] | None = None) -> None:
    """What the cache (or a fuse-only runtime's configuration) now serves, since when, and with
    which versions of the Secrets its options came from."""
    st = e.ctx.runtime.status = e.ctx.runtime.status or RuntimeStatus()
    st.mounts = [to_json(m) for m in mounts]
    st.mount_time = e.now_iso()
    if secret_versions is not None:
        st.mount_secret_versions = secret_versions or None


def _recorded_secret_versions(e: Cache) -> dict[str, str]:
    st = e.ctx.runtime.status
    return dict(st.mount_secret_versions or {}) if st is not None else {}


def rotated_secrets(e: Cache) -> list[str]:
    recorded = _recorded_secret_versions(e)
    return ufs.rotated_secrets(recorded, ufs.live_versions(e.gw, e.ns, recorded))


def live_mounts(e: Cache) -> dict[str, MountedUFS]:
    """The cache's mount table, listed once per pass (a command in the master): the check that
    asks whether to mount and the mounting that follows in the same pass read one listing."""
    if e.mount_table is None:
        e.mount_table = e.list_mounts()
    return dict(e.mount_table)


def _drifted(e: Cache, live: dict[str, MountedUFS]) -> bool:
    return any(live.get(m.effective_path, MountedUFS("")).ufs != m.mount_point
               for _, m in ufs.ufs_mounts(e.ctx.dataset))


# -- setup -------------------------------------------------------------------------------------


def should_check_ufs(e: Cache) -> bool:
    if not e.has_master or not ufs.ufs_mounts(e.ctx.dataset):
        return False
    if e.master_restarted() or applied_ufs_records(e) != desired_ufs_records(e):
        return True
    try:
        live = live_mounts(e)
    except CacheCommandError:
        return True  # prepare_ufs will say what is wrong
    return _drifted(e, live)


def reconcile_mounts(e: Cache) -> list[str]:
    """Make the cache's mount table match the Dataset; returns what it did, for events."""
    ds = e.ctx.dataset
    if ds is None:
        raise RuntimeError(f"{e.ref}: no Dataset {e.ns}/{e.name} to take the mounts from")
    try:
        resolved = ufs.resolve(e.gw, ds, ufs.ufs_mounts(ds))
    except ufs.MountSecretMissing as exc:
        raise CacheCommandError(str(exc)) from None
    e.ctx.known_secrets.update(ufs.secret_values(resolved))
    applied = {from_json(Mount, r).effective_path: r for r in applied_ufs_records(e)}
    wanted = {m.path: m for m in resolved if not (e.ROOT_BY_CONFIG and m.path == "/")}
    rotated = set(ufs.rotated_secrets(_recorded_secret_versions(e), ufs.secret_versions(resolved)))
    try:
        actions, done = _mount_unlisted(e, wanted) if not applied and e.mount_table is None else ([], False)
        if not done:
            live = live_mounts(e) if resolved or applied else {}
            actions += _unmount_stale(e, live, wanted, applied, rotated)
            actions += _mount_missing(e, ds.key, live, wanted, applied)
    finally:
        e.mount_table = None  # changed (or perhaps changed) by the commands above
    record_mounts(e, list(ds.spec.mounts or []), ufs.secret_versions(resolved))
    return actions


def _mount_unlisted(e: Cache, wanted: dict[str, ResolvedMount]) -> tuple[list[str], bool]:
    """Nothing of ours is mounted yet: mount without listing the table first (a command in the master
    less per runtime; in a real cache each is a CLI start). A mount that fails, because the path is
    taken (ours, mounted before a crash, or someone else's) or for any other reason, hands over to the
    listing path, which skips what is there and says what is wrong. Returns what it mounted and
    whether that was all."""
    actions: list[str] = []
    for path, want in wanted.items():
        try:
            e.run(e.mount_argv(want))
        except CacheCommandError:
            return actions, False
        actions.append(f"mounted {want.ufs} at {path}")
    return actions, True


def _unmount_stale(e: Cache, live: dict[str, MountedUFS], wanted: dict[str, ResolvedMount],
                   applied: dict[str, dict[str, Any]], rotated: set[str]) -> list[str]:
    """Unmount ours that are no longer wanted, changed, or made with a Secret that rotated since;
    they leave ``live``, so the mount step makes them again."""
    actions = []
    for path, entry in sorted(live.items()):
        if path == "/":
            continue
        want = wanted.get(path)
        if want is None:
            reason = "" if path in applied else None  # ours and no longer wanted; mounts made by others stay
        elif entry.ufs != want.ufs or (entry.read_only is not None and entry.read_only != want.read_only) \
                or (path in applied and applied[path] != want.record()):
            reason = " to mount it again with its new settings"
        elif path in applied and (changed := sorted(rotated & set(want.secret_versions))):
            reason = f" to mount it again with the changed Secret {', '.join(changed)}"
        else:
            reason = None
        if reason is not None:
            e.run(e.unmount_argv(path))
            actions.append(f"unmounted {path}{reason}")
            del live[path]
    return actions


def _mount_missing(e: Cache, dataset_key: str, live: dict[str, MountedUFS], wanted: dict[str, ResolvedMount],
                   applied: dict[str, dict[str, Any]]) -> list[str]:
    actions = []
    restarted = e.master_restarted()
    for path, want in wanted.items():
        if path in live:
            continue
        try:
            e.run(e.mount_argv(want))
        except CacheCommandError as exc:
            raise CacheCommandError(
                f"{exc}; check spec.mounts[{want.index}] of Dataset {dataset_key}: the mountPoint must exist "
                "and its options and encryptOptions must be what the UFS expects") from None
        verb = "mounted again" if restarted and path in applied else "mounted"
        actions.append(f"{verb} {want.ufs} at {path}")
    return actions


# -- sync --------------------------------------------------------------------------------------


def should_sync_dataset_mounts(e: Cache) -> bool:
    """Changed mounts, a restarted master, or a changed Secret behind the mount options (the
    operator watches Secrets, so a rotation is applied at once, not at the next drift check)."""
    ds = e.ctx.dataset
    if ds is None or ds.status is None or ds.status.mounts is None:
        return False
    if ds.mounts_behind():
        return True
    if not (e.has_master and ufs.ufs_mounts(ds)):
        return False
    return e.master_restarted() or (e.master_running() and bool(rotated_secrets(e)))


def sync_dataset_mounts(e: Cache) -> None:
    ds = e.ctx.dataset
    assert ds is not None and ds.status is not None
    wanted = copy.deepcopy(list(ds.spec.mounts or []))
    e.mounts_override = wanted
    try:
        # The mount table in the ConfigMaps, native mounts and Secret volumes in the pods, a fuse-only
        # runtime's whole configuration: whatever is rendered from the mounts follows them first.
        worker_replicas = e.replicas if e.has_workers else 0
        updated = [o for o in render.desired(e, worker_replicas) if e.apply(o)]
        actions = [f"updated {o['kind']} {o['metadata']['name']}" for o in updated]
        if any(o["kind"] == "StatefulSet" and o["metadata"]["name"] == e.object_name("master") for o in updated):
            # The master restarts with its new volumes (a Secret the mounts read now, say); the mounts
            # are made once it runs again, and the Dataset stays Updating until then.
            e.ctx.event("Normal", "MountsUpdated", f"{e.ref}: " + ", ".join(actions) + "; the mounts follow once "
                        "the master runs again")
            return
        actions += reconcile_mounts(e) if e.has_master else []
        if not e.has_master:
            record_mounts(e, wanted)
    finally:
        e.mounts_override = None
    ds.status.mounts = wanted
    if actions:
        e.ctx.event("Normal", "MountsUpdated", f"{e.ref}: " + ", ".join(actions))
        if e.has_master:
            metadata.MetadataSync(e).tick()


def should_update_ufs(e: Cache) -> bool:
    """The cache's mount table drifted from the Dataset (unmounted by hand, lost by the master)."""
    if not e.has_master or not ufs.ufs_mounts(e.ctx.dataset) or not e.master_running():
        return False
    try:
        live = live_mounts(e)
    except CacheCommandError as exc:
        e.ctx.log.info("cannot list the mounts of %s: %s", e.ref, exc)
        return False
    return _drifted(e, live)


def update_on_ufs_change(e: Cache) -> None:
    actions = reconcile_mounts(e)
    if actions:
        e.ctx.event("Normal", "UFSRemounted", f"{e.ref}: the cache's mounts are back in line with the Dataset: "
                    + ", ".join(actions))
        metadata.MetadataSync(e).tick()
