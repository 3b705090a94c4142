"""Is the runtime still what setup made? The guard of ``health_lost``.

A missing StatefulSet, DaemonSet, ConfigMap or Service, or a component with no ready pod, sends the
runtime back through setup, which makes again what is gone. A component that is unready because it
is rolling out a changed spec is updating, not broken, until the rollout deadline has passed.
What is wrong is said in one Warning event naming every problem.
"""

from __future__ import annotations

from engines.cache import render, report
from engines.cache.base import Cache
from engines.cache.objects import rolling_out, spec_replicas, status_int
from lifecycle import CONFIG_MAP, DAEMON_SET, SERVICE, STATEFUL_SET, Obj, find_condition

# Seconds a rollout of a changed spec may keep a component unready before that counts as broken
# (``settings['rollout_deadline']``; the default of a Deployment's progressDeadlineSeconds).
DEFAULT_ROLLOUT_DEADLINE = 600.0


def check_runtime_healthy(e: Cache) -> bool:
    problems = [*_master_problems(e), *_worker_problems(e), *_missing_objects(e)]
    if not problems:
        return True
    e.ctx.event("Warning", "RuntimeUnhealthy", f"{e.ref}: {'; '.join(problems)}; setting it up again")
    return False


def _master_problems(e: Cache) -> list[str]:
    if not e.has_master:
        return []
    master = e.get(STATEFUL_SET, e.object_name("master"))
    if master is None:
        return [f"StatefulSet {e.ns}/{e.object_name('master')} is missing"]
    ready, wanted = status_int(master, "readyReplicas"), spec_replicas(master)
    if ready < max(wanted, 1) and not _rollout_in_time(e, master, "MasterReady"):
        return [f"{ready} of {wanted} masters ready"]
    return []


def _worker_problems(e: Cache) -> list[str]:
    if not e.has_workers:
        return []
    worker = e.get(STATEFUL_SET, e.object_name("worker"))
    if worker is None:
        return [f"StatefulSet {e.ns}/{e.object_name('worker')} is missing"]
    if (e.replicas > 0 and spec_replicas(worker) > 0 and status_int(worker, "readyReplicas") == 0
            and not _rollout_in_time(e, worker, "WorkersReady")):
        return ["no worker is ready"]
    return []


def _missing_objects(e: Cache) -> list[str]:
    problems = []
    if e.has_fuse and e.get(DAEMON_SET, e.object_name("fuse")) is None:
        problems.append(f"DaemonSet {e.ns}/{e.object_name('fuse')} is missing")
    for r in render.desired_summary(e, e.replicas):
        if r.kind == "ConfigMap" and e.get(CONFIG_MAP, r.name) is None:
            problems.append(f"ConfigMap {e.ns}/{r.name} is missing")
    for svc in e.service_names() if e.has_master else []:
        if e.get(SERVICE, svc) is None:
            problems.append(f"Service {e.ns}/{svc} is missing")
    return problems


def _rollout_in_time(e: Cache, sts: Obj, condition: str) -> bool:
    """An unready component that is rolling out a changed spec is updating, not broken (a
    single-replica rollout has no ready pod for a while), until it has been unready for longer than
    the rollout deadline; the runtime's ready condition says since when."""
    if not rolling_out(sts):
        return False
    st = e.ctx.runtime.status
    cond = find_condition(st.conditions or [], condition) if st else None
    since = report.parse_time(cond.last_transition_time) if cond and cond.status == "False" else None
    deadline = float(e.ctx.settings.get("rollout_deadline", DEFAULT_ROLLOUT_DEADLINE))
    if since is None or (e.ctx.now() - since).total_seconds() < deadline:
        return True
    e.ctx.log.warning("%s: the rollout of StatefulSet %s has kept it unready for over %.0fs", e.ref,
                      sts["metadata"]["name"], deadline)
    return False
