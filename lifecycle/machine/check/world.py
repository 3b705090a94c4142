"""The abstract world of one Dataset/runtime pair: what is written in the cluster, and free facts.

A ``World`` is everything the next reconcile pass can read: the two objects (their deletion, the
finalizers, labels and the status fields the machines are restored from), the objects the runtime
owns (workloads, PV and PVC, which Kubernetes' protection finalizers keep "terminating" while in
use) and the facts no operator decides: whether the master and workers are ready, a workload lost,
a pod using the volume, a migration running, another dataset referring to this one. The
environment may change a fact, request a deletion or change a spec at any moment (``env_moves``);
Kubernetes lifts a protection finalizer once nothing needs it and collects a runtime whose owner
Dataset is gone (``cluster_moves``, always fair).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

# A PV or PVC: not there, there, or deleted but kept by Kubernetes' protection finalizer.
ABSENT, PRESENT, TERMINATING = 0, 1, 2


class World(NamedTuple):
    # The Dataset object: it exists, its deletion was requested, our finalizer, the dataset-id label.
    ds: bool = True
    ds_del: bool = False
    ds_fin: bool = False
    ds_label: bool = False
    # Its status: the phase ("" before the first write), the Deleting condition, the runtime binding
    # (status.runtimes), and applied mounts that differ from the spec's.
    ds_phase: str = ""
    ds_cond: bool = False
    ds_bound: bool = False
    ds_behind: bool = False
    # The runtime object, and status.lifecycle.state (None before the first write).
    rt: bool = True
    rt_del: bool = False
    rt_fin: bool = False
    rt_label: bool = False
    rt_state: str | None = None
    rt_spec_changed: bool = False  # a spec change the workloads do not have yet (sync_runtime applies it)
    # What the runtime owns: master and worker workloads (the cache), the PV and the PVC.
    master: bool = False
    workers: bool = False
    pv: int = ABSENT
    pvc: int = ABSENT
    # Free facts.
    master_ready: bool = True
    workers_ready: bool = True
    spec_valid: bool = True
    pod: bool = False  # an unfinished pod mounts the PVC
    migration: bool = False
    referenced: bool = False  # another Dataset mounts this one through dataset://

    @property
    def volume_ready(self) -> bool:
        return self.pv != ABSENT and self.pvc != ABSENT

    @property
    def volume_gone(self) -> bool:
        return self.pv == ABSENT and self.pvc == ABSENT

    @property
    def cache_gone(self) -> bool:
        return not (self.master or self.workers)

    def good(self) -> World:
        """The same cluster with every free fact as a working cluster has it and nothing in the way."""
        return self._replace(master_ready=True, workers_ready=True, spec_valid=True, pod=False,
                             migration=False, referenced=False)


def _deleted(w: World, which: str) -> World:
    """A deletion request: the object goes at once without our finalizer, else it is marked."""
    if which == "ds":
        return w._replace(ds_del=True) if w.ds_fin else World(**{**w._asdict(), **GONE_DATASET})
    return w._replace(rt_del=True) if w.rt_fin else World(**{**w._asdict(), **GONE_RUNTIME})


GONE_DATASET = {"ds": False, "ds_del": False, "ds_fin": False, "ds_label": False, "ds_phase": "", "ds_cond": False,
                "ds_bound": False, "ds_behind": False}
GONE_RUNTIME = {"rt": False, "rt_del": False, "rt_fin": False, "rt_label": False, "rt_state": None,
                "rt_spec_changed": False}

FLIPPABLE = ("master_ready", "workers_ready", "spec_valid", "migration", "referenced")


def env_moves(w: World) -> Iterator[tuple[str, World]]:
    """What a user or the cluster may do to the pair at any moment, each named for a trace."""
    yield from _requests(w)
    for fact in FLIPPABLE:
        if fact != "migration" or w.ds:
            yield f"{fact} becomes {not getattr(w, fact)}", World(**{**w._asdict(), fact: not getattr(w, fact)})
    yield from _losses(w)


def _requests(w: World) -> Iterator[tuple[str, World]]:
    """Deletions and spec changes."""
    if w.ds and not w.ds_del:
        yield "the Dataset's deletion is requested", _deleted(w, "ds")
    if w.rt and not w.rt_del:
        yield "the runtime's deletion is requested", _deleted(w, "rt")
    if w.ds and w.ds_bound and not w.ds_behind:
        yield "the Dataset's mounts are changed", w._replace(ds_behind=True)
    if w.rt and not w.rt_spec_changed:
        yield "the runtime's spec is changed", w._replace(rt_spec_changed=True)


def _losses(w: World) -> Iterator[tuple[str, World]]:
    """Workloads lost, a pod coming and going, a user deleting the volume."""
    if w.master:
        yield "the master workload is lost", w._replace(master=False)
    if w.workers:
        yield "the worker workload is lost", w._replace(workers=False)
    if not w.pod and w.pvc == PRESENT and w.pv != ABSENT:
        yield "a pod starts using the PVC", w._replace(pod=True)
    if w.pod:
        yield "the pod using the PVC finishes", w._replace(pod=False)
    if w.pvc == PRESENT and not w.pod:
        yield "a user deletes the PVC", w._replace(pvc=ABSENT)
    if w.pv == PRESENT:
        yield "a user deletes the PV", w._replace(pv=TERMINATING if w.pvc != ABSENT else ABSENT)


def cluster_moves(w: World) -> Iterator[tuple[str, World]]:
    """Kubernetes finishing a deletion: the PVC once no pod uses it, the PV once its PVC is gone, and
    the garbage collector deleting a runtime whose owner, the Dataset it claimed, is gone."""
    if not w.ds and w.rt and w.rt_label and not w.rt_del:
        yield "the garbage collector deletes the runtime (its owner Dataset is gone)", _deleted(w, "rt")
    if w.pvc == TERMINATING and not w.pod:
        yield "Kubernetes removes the terminating PVC", w._replace(pvc=ABSENT)
    if w.pv == TERMINATING and w.pvc == ABSENT:
        yield "Kubernetes removes the terminating PV", w._replace(pv=ABSENT)


def describe(w: World) -> str:
    """One line: both objects and the owned ones, for traces."""
    phase = w.ds_phase or '""'
    ds = "gone" if not w.ds else (f"{phase}{' deleting' if w.ds_del else ''}"
                                  f"{' cond=Deleting' if w.ds_cond else ''}{' bound' if w.ds_bound else ''}"
                                  f"{' fin' if w.ds_fin else ''}")
    rt = "gone" if not w.rt else f"{w.rt_state or '-'}{' deleting' if w.rt_del else ''}{' fin' if w.rt_fin else ''}"
    names = {ABSENT: "-", PRESENT: "yes", TERMINATING: "terminating"}
    facts = [f for f in ("pod",) if getattr(w, f)] + [f"not {f}" for f in FLIPPABLE[:3] if not getattr(w, f)] + \
        [f for f in FLIPPABLE[3:] if getattr(w, f)]
    return (f"Dataset {ds}; runtime {rt}; cache {'-' if w.cache_gone else 'yes'}; PV {names[w.pv]}; "
            f"PVC {names[w.pvc]}" + (f"; {', '.join(facts)}" if facts else ""))


__all__ = ["ABSENT", "PRESENT", "TERMINATING", "World", "cluster_moves", "describe", "env_moves"]
