"""What a cache system supplies to the shared cache engine, in one place.

An engine for a master/worker/fuse cache (Alluxio, Jindo, ...) subclasses ``CacheEngine`` and
provides exactly what is declared here: the names of its objects and containers, which components
it runs, its ports, its pods and configuration, and the commands it runs in its master. Everything
else (the order of steps, applying objects, status, health, mounts, teardown) is the shared engine's.
The helpers a cache system may use while it renders or runs commands are ``Cache``'s
(``engines.cache.base``): names, ports, the spec's tiers and mounts, ``run``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

import attrs

from engines.cache.objects import Workload
from engines.cache.ports import Ports

__all__ = ["CacheSystem", "MountedUFS", "Ports"]
from engines.cache.report import CacheReport
from engines.cache.ufs import ResolvedMount
from lifecycle import CleanCachePolicy, FieldError, RuntimeStatus


@attrs.frozen
class MountedUFS:
    """One row of the cache's own mount table."""

    ufs: str
    read_only: bool | None = None


class CacheSystem(ABC):
    """The contract of a cache system. Class attributes name its objects; methods say the rest."""

    # Names follow one rule, as the reference's: objects are <name>-<OBJECT_PREFIX><role> (role
    # master, worker or fuse), containers (also the pods' role label) <CONTAINER_PREFIX><role>, the
    # fuse mounts at .../<fuse container> with mount type fuse.<fuse container>, and pods carry
    # app=<RUNTIME_TYPE>.
    RUNTIME_TYPE: ClassVar[str] = ""  # labels, finalizer, status.runtimes[].type: "alluxio"
    OBJECT_PREFIX: ClassVar[str] = ""  # "jindofs-" for <name>-jindofs-master
    CONTAINER_PREFIX: ClassVar[str] = ""  # "alluxio-" for the container alluxio-master
    VALUES_SUFFIX: ClassVar[str] = ""  # <name>-<suffix>: the ConfigMap of the rendered values
    # The under file systems the cache's own mount command takes (local:// and pvc:// are pod
    # volumes and always served): the runtime refuses a Dataset that mounts anything else.
    UFS_SCHEMES: ClassVar[tuple[str, ...]] = ()
    # A mount at path "/" is the cache's root UFS, set in its configuration (Alluxio), rather than
    # made by the mount command (Jindo).
    ROOT_BY_CONFIG: ClassVar[bool] = False
    # The cache's report has hit counters (cacheHitRatio and the like), so a report made before the
    # Dataset's volume exists may give them as zero without asking for them.
    REPORTS_HITS: ClassVar[bool] = False

    # -- which components run ------------------------------------------------------------------

    @property
    def has_master(self) -> bool:
        return True

    @property
    def has_workers(self) -> bool:
        return True

    @property
    def has_fuse(self) -> bool:
        return True

    @property
    def master_replicas(self) -> int:
        return 1

    @property
    def auto_sync(self) -> bool:
        """Load the UFS metadata once the runtime is bound."""
        return True

    @property
    def clean_cache_policy(self) -> CleanCachePolicy:
        return CleanCachePolicy().with_defaults()

    # -- ports ----------------------------------------------------------------------------------

    @abstractmethod
    def default_ports(self) -> Ports:
        """Port name -> default number, per component that listens ("master", "worker")."""

    def spec_ports(self) -> Ports:
        """The ports the runtime's spec sets itself; they are used as given, never allocated."""
        return {}

    def on_host_network(self, component: str) -> bool:
        """Whether the component's pods use the node's network (and so its ports)."""
        return False

    # -- pods and configuration ------------------------------------------------------------------

    @abstractmethod
    def workload(self, role: str) -> Workload:
        """The pods of ``role`` ("master", "worker", "fuse"): containers, volumes, placement."""

    @abstractmethod
    def config_data(self) -> dict[str, dict[str, str]]:
        """ConfigMap name -> data, besides the values ConfigMap."""

    @abstractmethod
    def values(self) -> dict[str, Any]:
        """The rendered values (the reference's Helm values), kept in the values ConfigMap."""

    @abstractmethod
    def hcfs_endpoint(self) -> str:
        """The Dataset's ``status.hcfs.endpoint``."""

    def status_extras(self, status: RuntimeStatus) -> None:  # noqa: B027 - optional, most systems have none
        """Engine-specific status fields (Alluxio's API gateway)."""

    def engine_errors(self) -> list[FieldError]:
        """Spec checks only this cache system knows (e.g. an even number of masters)."""
        return []

    # -- commands in the master ------------------------------------------------------------------

    @abstractmethod
    def list_mounts(self) -> dict[str, MountedUFS]:
        """The cache's mount table: path -> what is mounted there."""

    @abstractmethod
    def mount_argv(self, mount: ResolvedMount) -> list[str]:
        """The command that mounts ``mount``."""

    @abstractmethod
    def unmount_argv(self, path: str) -> list[str]: ...

    @abstractmethod
    def cache_report(self, hits: bool = True) -> CacheReport:
        """Capacity, use and hit counters of the cache; with ``hits`` False the counters may be left
        out (None), for a tool that reports them by another command."""

    @abstractmethod
    def metadata(self, paths: Sequence[str], load: bool) -> tuple[int, int | None]:
        """Files and bytes of the UFS (bytes None when the tool cannot tell); ``load`` first loads
        the metadata of ``paths`` into the cache."""

    @abstractmethod
    def clean_cache_argv(self) -> list[str]:
        """The command that frees the cache before the runtime goes."""
