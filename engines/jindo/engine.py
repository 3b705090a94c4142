"""The Jindo engine: a JindoRuntime as Kubernetes objects and ``jindocache`` commands.

Jindo's own parts: the names (``<name>-jindofs-master``, container ``jindofs-master``, ...), its
server and client configuration files, Secret-backed options passed to the pods as environment
variables (the configuration names the variable, never the value), and the CLI
(``jindocache -mount|-unmount|-load -meta|-report|-formatCache``). With master and workers
disabled the runtime is fuse-only: the fuse reads the UFS itself, its configuration carries the
mount table, and setup and readiness follow the fuse DaemonSet alone.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from engines.cache import configfile, objects, report, ufs
from engines.cache.commands import CacheCommandError
from engines.cache.engine import CacheEngine
from engines.cache.objects import Workload, env_list, port_list
from engines.cache.operations import CacheOperations
from engines.cache.report import CacheReport
from engines.cache.system import MountedUFS
from engines.cache.ufs import ResolvedMount
from engines.jindo.api import JindoCompTemplateSpec, JindoFuseSpec, JindoRuntimeSpec
from lifecycle import CleanCachePolicy, DataLoad, FieldError, Obj, Operation, Unsupported

DEFAULT_IMAGE = "registry.cn-shanghai.aliyuncs.com/jindofs/smartdata"
DEFAULT_FUSE_IMAGE = "registry.cn-shanghai.aliyuncs.com/jindofs/jindo-fuse"
DEFAULT_TAG = "6.2.0"
MASTER_PORTS = {"rpc": 8101, "raft": 8103}
WORKER_PORTS = {"rpc": 6101}
CONF_DIR = "/jindo-config"
SERVER_CFG = "jindocache.cfg"
CLIENT_CFG = "jindocache-client.cfg"
NOT_AVAILABLE = "N/A"
_MOUNT_ROW = re.compile(r"^Mount point:\s*(\S+)\s+Real path:\s*(\S+)\s*$")


def secret_env_name(option: str) -> str:
    """The environment variable carrying a Secret-backed option, e.g. fs.oss.accessKeyId ->
    JINDO_SECRET_FS_OSS_ACCESSKEYID."""
    return "JINDO_SECRET_" + re.sub(r"[^A-Za-z0-9]", "_", option).upper()


class JindoEngine(CacheOperations, CacheEngine[JindoRuntimeSpec, JindoCompTemplateSpec]):
    RUNTIME_TYPE = "jindo"
    OPERATION_KINDS = ("DataLoad",)
    OBJECT_PREFIX = CONTAINER_PREFIX = "jindofs-"
    VALUES_SUFFIX = "jindocache-values"
    UFS_SCHEMES = ("oss", "s3", "s3a", "hdfs", "cos", "cosn", "obs", "bos", "ks3", "tos")
    COMPONENT = JindoCompTemplateSpec

    @property
    def fuse(self) -> JindoFuseSpec:
        return self.spec.fuse or JindoFuseSpec()

    # -- configuration -------------------------------------------------------------------------

    @property
    def has_master(self) -> bool:
        return not self.spec.master_disabled

    @property
    def has_workers(self) -> bool:
        return not self.spec.worker_disabled

    @property
    def has_fuse(self) -> bool:
        return not self.fuse.disabled

    @property
    def clean_cache_policy(self) -> CleanCachePolicy:
        return self.spec.effective_clean_cache_policy

    def default_ports(self) -> dict[str, dict[str, int]]:
        return {"master": dict(MASTER_PORTS), "worker": dict(WORKER_PORTS)}

    def spec_ports(self) -> dict[str, dict[str, int]]:
        return {role: dict(self.component(role).ports or {}) for role in ("master", "worker")}

    def on_host_network(self, component: str) -> bool:
        return self.host_network

    @property
    def host_network(self) -> bool:
        return (self.spec.network_mode or "HostNetwork") == "HostNetwork"

    def _secret_options(self) -> dict[str, dict[str, str]]:
        """Option name -> the Secret's name and key, for every encryptOption of the Dataset."""
        ds = self.ctx.dataset
        refs: dict[str, dict[str, str]] = {}
        shared = (ds.spec.shared_encrypt_options or []) if ds else []
        for mount in self.mounts_in_effect():
            for opt in [*shared, *(mount.encrypt_options or [])]:
                ref = opt.value_from.secret_key_ref if opt.value_from else None
                if ref is not None and ref.name:
                    refs[opt.name] = {"name": ref.name, "key": ref.key or opt.name}
        return refs

    def _plain_options(self) -> dict[str, str]:
        options: dict[str, str] = {}
        for row in ufs.option_records(self.ctx.dataset, self.mounts_in_effect()):
            options.update(row.get("options") or {})
        return options

    def server_properties(self) -> dict[str, dict[str, str]]:
        mp = self.master_ports()
        common = {"namespace.rpc.port": str(mp["rpc"]), "namespace.backend.type": "rocksdb",
                  "namespace.meta-dir": f"/var/lib/jindocache/{self.ns}/{self.name}/meta"}
        if self.master_replicas > 1:
            common["namespace.backend.type"] = "raft"
            common["namespace.backend.raft.initial-conf"] = ",".join(
                f"{self.master_host(i)}:{mp['raft']}:0" for i in range(self.master_replicas))
        storage: dict[str, str] = {}
        paths = [p for level in self.levels
                 for p in (level.path or ("/dev/shm" if level.mediumtype == "MEM" else "")).split(",") if p]
        if paths:
            storage["storage.data-dirs"] = ",".join(f"{p}/{self.ns}/{self.name}/jindocache" for p in paths)
        for level in self.levels:
            if level.mediumtype == "MEM" and level.quota:
                storage["storage.ram.cache.size"] = str(report.quantity_bytes(level.quota))
            if level.high:
                storage["storage.watermark.high.ratio"] = level.high
            if level.low:
                storage["storage.watermark.low.ratio"] = level.low
        options = {**self._plain_options(),
                   **{k: f"${{env.{secret_env_name(k)}}}" for k in self._secret_options()},
                   **(self.spec.properties or {})}
        return {"jindocache-common": {**common, **options}, "jindocache-storage": storage,
                "jindocache-master": dict(self.component("master").properties or {}),
                "jindocache-worker": dict(self.component("worker").properties or {})}

    def client_properties(self) -> dict[str, str]:
        props = {"fs.jindocache.data.cache.enable": "true" if self.has_workers else "false"}
        if self.has_master:
            props["fs.jindocache.namespace.rpc.address"] = ",".join(
                f"{self.master_host(i)}:{self.master_ports()['rpc']}" for i in range(self.master_replicas))
        else:
            # Fuse-only: the client resolves paths itself, so it carries the mount table and options.
            props.update(self._plain_options())
            props.update({k: f"${{env.{secret_env_name(k)}}}" for k in self._secret_options()})
        props.update(self.fuse.properties or {})
        return props

    def _mount_table(self) -> str:
        return json.dumps(ufs.option_records(self.ctx.dataset, self.mounts_in_effect()), indent=1,
                          sort_keys=True)

    @property
    def config_name(self) -> str:
        return f"{self.name}-jindofs-config"

    @property
    def client_config_name(self) -> str:
        return f"{self.name}-jindofs-client-config"

    def config_data(self) -> dict[str, dict[str, str]]:
        client = {CLIENT_CFG: configfile.ini({"jindocache-client": self.client_properties()})}
        if not self.has_master:
            client["mounts.json"] = self._mount_table()
        server = {SERVER_CFG: configfile.ini(self.server_properties()), "mounts.json": self._mount_table()}
        return {self.config_name: server, self.client_config_name: client}

    def _checksum(self, role: str) -> str:
        if role == "fuse":
            return objects.digest(self.config_data()[self.client_config_name])
        server = self.server_properties()
        return objects.digest([server["jindocache-common"], server["jindocache-storage"],
                               server[f"jindocache-{role}"]])

    def values(self) -> dict[str, Any]:
        return {
            "fullnameOverride": self.name,
            "image": self._image(),
            "fuseImage": self._fuse_image(),
            "fuseOnly": not self.has_master and not self.has_workers,
            "master": {"enabled": self.has_master, "replicas": self.master_replicas, "ports": self.master_ports()},
            "worker": {"enabled": self.has_workers, "replicas": self.replicas, "ports": self.worker_ports()},
            "fuse": {"enabled": self.has_fuse, "mountPath": self.fuse_path, "args": list(self.fuse.args or [])},
            "hostNetwork": self.host_network,
            "properties": self.server_properties(),
            "tieredstore": [{k: v for k, v in {"mediumtype": lv.mediumtype, "path": lv.path, "quota": lv.quota,
                                               "volumeType": lv.volume_type}.items() if v} for lv in self.levels],
            "placement": self.placement,
            "mounts": json.loads(self._mount_table()),
        }

    # -- workloads -----------------------------------------------------------------------------

    def _image(self) -> str:
        version = self.spec.jindo_version
        image = version.image if version and version.image else DEFAULT_IMAGE
        tag = version.image_tag if version and version.image_tag else DEFAULT_TAG
        return f"{image}:{tag}"

    def operation_image(self) -> str:
        return self._image()

    def operation_commands(self, op: Operation) -> list[list[str]]:
        """``jindocache -load -R [-meta] -replica N <path>`` per target (the Dataset's root by default)."""
        if not isinstance(op, DataLoad):
            raise Unsupported(f"{self.ref} cannot run {op.KIND}")
        meta = ["-meta"] if op.spec.load_metadata else []
        return [["jindocache", "-load", "-R", *meta, "-replica", str(t.replicas or 1), t.path]
                for t in op.spec.target or []] or [["jindocache", "-load", "-R", *meta, "-replica", "1", "/"]]

    def _fuse_image(self) -> str:
        version = self.spec.jindo_version
        image = self.fuse.image or DEFAULT_FUSE_IMAGE
        tag = self.fuse.image_tag or (version.image_tag if version and version.image_tag else DEFAULT_TAG)
        return f"{image}:{tag}"

    def _secret_env(self) -> list[Obj]:
        return [{"name": secret_env_name(option), "valueFrom": {"secretKeyRef": ref}}
                for option, ref in sorted(self._secret_options().items())]

    def _env_from(self) -> list[Obj]:
        return [{"secretRef": {"name": self.spec.secret}}] if self.spec.secret else []

    def _conf_volumes(self) -> list[Obj]:
        return [{"name": "jindo-config", "configMap": {"name": self.config_name}},
                {"name": "jindo-client-config", "configMap": {"name": self.client_config_name}}]

    def workload(self, role: str) -> Workload:
        ds = self.ctx.dataset
        tolerations = list(ds.spec.tolerations or []) if ds else []
        native_vols, native_mounts = self.native_volumes()
        if role == "fuse":
            return self._fuse_workload(native_vols, native_mounts, tolerations)
        comp = self.component(role)
        user_vols, user_mounts = self.user_volumes(comp.volume_mounts)
        labels, annotations = self.pod_metadata(comp.pod_metadata, self.spec.labels, comp.labels)
        tier_vols, tier_mounts = self.tier_volumes() if role == "worker" else ([], [])
        container = objects.compact({
            "name": self.container(role),
            "image": self._image(),
            "imagePullPolicy": self.spec.jindo_version.image_pull_policy if self.spec.jindo_version else None,
            "args": [role],
            "env": [*self._secret_env(), *env_list(comp.env)],
            "envFrom": self._env_from(),
            "ports": port_list(self.master_ports() if role == "master" else self.worker_ports()),
            "resources": comp.resources,
            "securityContext": self.security_context(),
            "volumeMounts": [{"name": "jindo-config", "mountPath": CONF_DIR},
                             {"name": "jindo-client-config", "mountPath": f"{CONF_DIR}-client"},
                             *tier_mounts, *native_mounts, *user_mounts],
        })
        own_tolerations = list(comp.tolerations or [])
        return Workload(
            role=role, containers=[container],
            volumes=[*self._conf_volumes(), *tier_vols, *native_vols, *user_vols],
            host_network=self.host_network,
            node_selector=dict(comp.node_selector or {}),
            tolerations=[*own_tolerations, *tolerations] if role == "worker" else own_tolerations,
            labels=labels, annotations=annotations,
            image_pull_secrets=self.pull_secrets(comp.image_pull_secrets),
            config_checksum=self._checksum(role),
        )

    def _fuse_workload(self, native_vols: list[Obj], native_mounts: list[Obj], tolerations: list[Obj]) -> Workload:
        fuse = self.fuse
        parent = self.fuse_path.rsplit("/", 1)[0]
        labels, annotations = self.pod_metadata(fuse.pod_metadata, self.spec.labels, fuse.labels)
        args = list(fuse.args) if fuse.args else ["-okernel_cache", "-oattr_timeout=7200", "-oentry_timeout=7200"]
        container = objects.compact({
            "name": "jindofs-fuse",
            "image": self._fuse_image(),
            "imagePullPolicy": fuse.image_pull_policy,
            "args": [*args, self.fuse_path],
            "env": [*(self._secret_env() if not self.has_master else []), *env_list(fuse.env)],
            "envFrom": self._env_from() if not self.has_master else [],
            "resources": fuse.resources,
            "securityContext": {"privileged": True},
            "volumeMounts": [{"name": "jindo-client-config", "mountPath": f"{CONF_DIR}-client"},
                             {"name": "fuse-device", "mountPath": "/dev/fuse"},
                             {"name": "fuse-mount", "mountPath": parent, "mountPropagation": "Bidirectional"},
                             *native_mounts],
        })
        return Workload(
            role="fuse", containers=[container],
            volumes=[{"name": "jindo-client-config", "configMap": {"name": self.client_config_name}},
                     {"name": "fuse-device", "hostPath": {"path": "/dev/fuse", "type": "CharDevice"}},
                     {"name": "fuse-mount", "hostPath": {"path": parent, "type": "DirectoryOrCreate"}},
                     *native_vols],
            host_network=self.host_network,
            node_selector=dict(fuse.node_selector or {}),
            tolerations=[*(fuse.tolerations or []), *tolerations],
            labels=labels, annotations=annotations,
            image_pull_secrets=self.pull_secrets(fuse.image_pull_secrets),
            config_checksum=self._checksum("fuse"),
        )

    def hcfs_endpoint(self) -> str:
        if not self.has_master:
            return NOT_AVAILABLE
        return f"jindo://{self.master_host(0)}:{self.master_ports()['rpc']}"

    # -- commands ------------------------------------------------------------------------------

    def list_mounts(self) -> dict[str, MountedUFS]:
        """``jindocache -mount`` lines: ``Mount point: <path>  Real path: <ufs>``."""
        table = {}
        for line in self.run(["jindocache", "-mount"]).splitlines():
            row = _MOUNT_ROW.match(line.strip())
            if row:
                table[row.group(1)] = MountedUFS(row.group(2))
        return table

    def mount_argv(self, mount: ResolvedMount) -> list[str]:
        # Options reach jindocache through its configuration (plain ones) and environment (secret ones).
        return ["jindocache", "-mount", mount.path, mount.ufs]

    def unmount_argv(self, path: str) -> list[str]:
        return ["jindocache", "-unmount", path]

    def cache_report(self, hits: bool = True) -> CacheReport:
        values = report.report_values(self.run(["jindocache", "-report"]))
        if "Total MEM Capacity" not in values and "Total Disk Capacity" not in values:
            raise CacheCommandError(f"{self.ref}: `jindocache -report` printed no capacity lines")
        capacity = sum(report.tool_size(values.get(f"Total {m} Capacity")) for m in ("Disk", "MEM"))
        used = sum(report.tool_size(values.get(f"Used {m} Capacity")) for m in ("Disk", "MEM"))
        return CacheReport(capacity=capacity, used=used)

    def metadata(self, paths: Sequence[str], load: bool) -> tuple[int, int | None]:
        """``jindocache -load -meta -R <path>`` per mount when loading, then ``jindo fs -count
        jindo://<path>``, whose Hadoop columns (directories, files, bytes, path) size the UFS."""
        timeout = self.metadata_timeout
        files = size = 0
        for path in paths:
            if load:
                self.run(["jindocache", "-load", "-meta", "-R", path], timeout=timeout)
            url = "jindo://" + path
            columns = self.run(["jindo", "fs", "-count", url], timeout=timeout).split()
            if len(columns) < 3 or not (columns[1].isdigit() and columns[2].isdigit()):
                raise CacheCommandError(f"{self.ref}: `jindo fs -count {url}` printed {columns!r}, "
                                        "not 'DIR_COUNT FILE_COUNT CONTENT_SIZE PATHNAME'")
            files += int(columns[1])
            size += int(columns[2])
        return files, size

    def clean_cache_argv(self) -> list[str]:
        return ["jindocache", "-formatCache", "-force"]

    # -- checks --------------------------------------------------------------------------------

    def engine_errors(self) -> list[FieldError]:
        errors = []
        if self.spec.master_disabled and not self.spec.worker_disabled:
            errors.append(FieldError("spec.worker.disabled", "workers cannot run without the master",
                                     "disable both master and worker for a fuse-only runtime, or neither"))
        if not self.has_master and not self.has_workers and not self.has_fuse:
            errors.append(FieldError("spec.fuse.disabled", "master, worker and fuse are all disabled",
                                     "enable the fuse for a fuse-only runtime"))
        if self.has_master and self.master_replicas % 2 == 0:
            errors.append(FieldError("spec.master.replicas", f"{self.master_replicas} masters cannot elect a "
                                     "leader by majority", "use 1, or 3 for high availability"))
        return errors + self._ini_errors()

    def _ini_errors(self) -> list[FieldError]:
        """Keys that become entries of jindocache.cfg must be writable as one entry (engines.cache.configfile)."""
        ds = self.ctx.dataset
        sources: list[tuple[str, dict[str, str] | None]] = [
            ("spec.properties", self.spec.properties), ("spec.master.properties", self.component("master").properties),
            ("spec.worker.properties", self.component("worker").properties),
            ("spec.fuse.properties", self.fuse.properties)]
        if ds is not None:
            sources += [(f"Dataset {ds.key} spec.sharedOptions", ds.spec.shared_options)]
            sources += [(f"Dataset {ds.key} spec.mounts[{i}].options", m.options)
                        for i, m in enumerate(ds.spec.mounts or [])]
        return [FieldError(f"{at}[{key}]", f"{key!r} cannot be a key of jindocache.cfg",
                           "remove '=' and a leading '[' from the key")
                for at, values in sources for key in values or {} if "=" in key or key.startswith("[")]
