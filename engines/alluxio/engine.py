"""The Alluxio engine: an AlluxioRuntime as Kubernetes objects and ``alluxio`` commands.

What is Alluxio's own is here: the names (``<name>-master``, container ``alluxio-master``, ...),
``alluxio-site.properties`` and the JVM options per component, the containers, and the CLI:
``alluxio fs mount|unmount|loadMetadata|count|free`` and ``alluxio fsadmin report summary|metrics``,
whose output is parsed as Alluxio 2.x prints it. The lifecycle itself is ``CacheEngine``'s.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from engines.alluxio import checks, cli, operations
from engines.alluxio.api import AlluxioCompTemplateSpec, AlluxioRuntimeSpec
from engines.cache import configfile, objects, report, ufs
from engines.cache.commands import CacheCommandError
from engines.cache.engine import CacheEngine
from engines.cache.objects import Workload, env_list, port_list
from engines.cache.operations import CacheOperations
from engines.cache.report import CacheReport
from engines.cache.system import MountedUFS
from engines.cache.ufs import ResolvedMount
from lifecycle import APIGatewayStatus, CleanCachePolicy, FieldError, Obj, Operation, RuntimeStatus

DEFAULT_IMAGE = "alluxio/alluxio"
DEFAULT_TAG = "2.9.0"
MASTER_PORTS = {"rpc": 19998, "web": 19999, "embedded": 19200}
JOB_MASTER_PORTS = {"job-rpc": 20001, "job-web": 20002, "job-embedded": 20003}
WORKER_PORTS = {"rpc": 29999, "web": 30000}
JOB_WORKER_PORTS = {"job-rpc": 30001, "job-data": 30002, "job-web": 30003}
API_GATEWAY_PORT = 39999
PROXY_PORT = "proxy-rest"  # the API gateway's port, among the master's
CONF_DIR = "/opt/alluxio/conf"
SITE = "alluxio-site.properties"
# Environment keys of <name>-config, and which components read them.
JAVA_OPTS = {
    "master": ("ALLUXIO_JAVA_OPTS", "ALLUXIO_MASTER_JAVA_OPTS", "ALLUXIO_JOB_MASTER_JAVA_OPTS"),
    "worker": ("ALLUXIO_JAVA_OPTS", "ALLUXIO_WORKER_JAVA_OPTS", "ALLUXIO_JOB_WORKER_JAVA_OPTS"),
    "fuse": ("ALLUXIO_JAVA_OPTS", "ALLUXIO_FUSE_JAVA_OPTS"),
}


def _alluxio_size(size: int) -> str:
    """Bytes as Alluxio reads a size (its GB is 1024-based)."""
    for suffix, unit in (("TB", 2**40), ("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if size >= unit and size % unit == 0:
            return f"{size // unit}{suffix}"
    return f"{size}B"


def _java_opts(jvm: Sequence[str] | None, props: dict[str, str] | None) -> str:
    """The JVM options of a component as Alluxio's start scripts read them: one variable, split on
    whitespace; no option or property may therefore contain any."""
    tokens = [configfile.java_option(o, "jvmOptions entry") for o in jvm or []]
    tokens += [configfile.java_option(f"-D{k}={v}", "property") for k, v in sorted((props or {}).items())]
    return " ".join(tokens)


class AlluxioEngine(CacheOperations, CacheEngine[AlluxioRuntimeSpec, AlluxioCompTemplateSpec]):
    RUNTIME_TYPE = "alluxio"
    OPERATION_KINDS = operations.KINDS
    CONTAINER_PREFIX = "alluxio-"
    VALUES_SUFFIX = "alluxio-values"
    ROOT_BY_CONFIG = True
    REPORTS_HITS = True
    UFS_SCHEMES = ("s3", "s3a", "oss", "hdfs", "cos", "cosn", "obs", "gs", "gcs", "wasb", "wasbs", "abfs", "abfss",
                   "alluxio", "cephfs", "ftp", "sftp", "nfs", "minio", "bos", "ks3", "tos", "http", "https")
    COMPONENT = AlluxioCompTemplateSpec

    # -- configuration -------------------------------------------------------------------------

    @property
    def auto_sync(self) -> bool:
        return self.spec.effective_auto_sync

    @property
    def clean_cache_policy(self) -> CleanCachePolicy:
        return self.spec.effective_clean_cache_policy

    def default_ports(self) -> dict[str, dict[str, int]]:
        # The API gateway (proxy) runs in the master pod, so its port is one of the master's.
        proxy = {PROXY_PORT: API_GATEWAY_PORT} if self.spec.api_gateway_enabled else {}
        return {"master": {**MASTER_PORTS, **JOB_MASTER_PORTS, **proxy},
                "worker": {**WORKER_PORTS, **JOB_WORKER_PORTS}}

    def spec_ports(self) -> dict[str, dict[str, int]]:
        def own(role: str) -> dict[str, int]:
            job = {f"job-{k}": v for k, v in (self.component(f"job_{role}").ports or {}).items()}
            return {**(self.component(role).ports or {}), **job}

        rest = (self.spec.api_gateway.ports or {}).get("rest") if self.spec.api_gateway else None
        proxy = {PROXY_PORT: rest} if rest and self.spec.api_gateway_enabled else {}
        return {"master": {**own("master"), **proxy}, "worker": own("worker")}

    def on_host_network(self, component: str) -> bool:
        return self._host_network(self.component(component).network_mode)

    def _host_network(self, mode: str | None) -> bool:
        return (mode or "HostNetwork") == "HostNetwork"

    def site_properties(self) -> dict[str, str]:
        mp, wp = self.master_ports(), self.worker_ports()
        props = {
            "alluxio.master.hostname": self.master_host(0),
            "alluxio.master.rpc.port": str(mp["rpc"]),
            "alluxio.master.web.port": str(mp["web"]),
            "alluxio.job.master.rpc.port": str(mp["job-rpc"]),
            "alluxio.job.master.web.port": str(mp["job-web"]),
            "alluxio.worker.rpc.port": str(wp["rpc"]),
            "alluxio.worker.web.port": str(wp["web"]),
            "alluxio.job.worker.rpc.port": str(wp["job-rpc"]),
            "alluxio.job.worker.data.port": str(wp["job-data"]),
            "alluxio.job.worker.web.port": str(wp["job-web"]),
            **({"alluxio.proxy.web.port": str(mp[PROXY_PORT])} if PROXY_PORT in mp else {}),
            **self._root_mount(),
            "alluxio.master.journal.type": "EMBEDDED" if self.master_replicas > 1 else "UFS",
            "alluxio.worker.tieredstore.levels": str(len(self.levels)),
        }
        if self.master_replicas > 1:
            props["alluxio.master.embedded.journal.addresses"] = ",".join(
                f"{self.master_host(i)}:{mp['embedded']}" for i in range(self.master_replicas))
            props["alluxio.job.master.embedded.journal.addresses"] = ",".join(
                f"{self.master_host(i)}:{mp['job-embedded']}" for i in range(self.master_replicas))
        for i, level in enumerate(self.levels):
            key = f"alluxio.worker.tieredstore.level{i}"
            paths = [p for p in (level.path or ("/dev/shm" if level.mediumtype == "MEM" else "")).split(",") if p]
            quotas = [q for q in (level.quota_list or "").split(",") if q] or [level.quota or "0"]
            props[f"{key}.alias"] = level.mediumtype
            props[f"{key}.dirs.path"] = ",".join(paths)
            props[f"{key}.dirs.mediumtype"] = ",".join([level.mediumtype] * len(paths))
            props[f"{key}.dirs.quota"] = ",".join(_alluxio_size(report.quantity_bytes(q)) for q in quotas)
            if level.high:
                props[f"{key}.watermark.high.ratio"] = level.high
            if level.low:
                props[f"{key}.watermark.low.ratio"] = level.low
        if self.spec.data and self.spec.data.replicas:
            props["alluxio.user.file.replication.min"] = str(self.spec.data.replicas)
        props.update(self.spec.properties or {})
        return props

    def _root_mount(self) -> dict[str, str]:
        """The root UFS: a Dataset mount at path "/" (as the reference), else the folder below which
        local:// and pvc:// mounts appear. Secret-backed options name their files, as mounts do."""
        ds = self.ctx.dataset
        root = next((m for _, m in ufs.ufs_mounts(ds) if m.effective_path == "/"), None)
        if root is None or ds is None:
            return {"alluxio.master.mount.table.root.ufs": ufs.UFS_ROOT}
        key = "alluxio.master.mount.table.root"
        props = {f"{key}.ufs": root.mount_point, f"{key}.readonly": str(bool(root.read_only)).lower(),
                 f"{key}.shared": str(bool(root.shared)).lower()}
        options = {**(ds.spec.shared_options or {}), **(root.options or {})}
        for opt in [*(ds.spec.shared_encrypt_options or []), *(root.encrypt_options or [])]:
            ref = opt.value_from.secret_key_ref if opt.value_from else None
            if ref is not None and ref.name:
                options[opt.name] = ufs.secret_file(ref.name, ref.key or opt.name)
        props.update({f"{key}.option.{k}": v for k, v in options.items()})
        return props

    def _opts(self) -> dict[str, str]:
        fuse = self.spec.fuse
        return {
            "ALLUXIO_JAVA_OPTS": _java_opts(self.spec.jvm_options, None),
            "ALLUXIO_MASTER_JAVA_OPTS": _java_opts(self.component("master").jvm_options,
                                                   self.component("master").properties),
            "ALLUXIO_JOB_MASTER_JAVA_OPTS": _java_opts(self.component("job_master").jvm_options,
                                                       self.component("job_master").properties),
            "ALLUXIO_WORKER_JAVA_OPTS": _java_opts(self.component("worker").jvm_options,
                                                   self.component("worker").properties),
            "ALLUXIO_JOB_WORKER_JAVA_OPTS": _java_opts(self.component("job_worker").jvm_options,
                                                       self.component("job_worker").properties),
            "ALLUXIO_FUSE_JAVA_OPTS": _java_opts(fuse.jvm_options if fuse else None,
                                                 fuse.properties if fuse else None),
        }

    @property
    def config_name(self) -> str:
        return f"{self.name}-config"

    def config_data(self) -> dict[str, dict[str, str]]:
        table = ufs.option_records(self.ctx.dataset, self.mounts_in_effect())
        return {
            self.config_name: {SITE: configfile.properties(self.site_properties()), **self._opts()},
            # The mount table as applied by `alluxio fs mount` in the master; Secret references only.
            f"{self.name}-mount-config": {"mounts.json": json.dumps(table, indent=1, sort_keys=True)},
        }

    def _checksum(self, role: str) -> str:
        opts = self._opts()
        return objects.digest([self.site_properties(), *(opts[k] for k in JAVA_OPTS[role])])

    def values(self) -> dict[str, Any]:
        ds = self.ctx.dataset
        fuse = self.spec.fuse
        return {
            "fullnameOverride": self.name,
            "image": self._image("master")[0],
            "master": {"replicas": self.master_replicas, "ports": self.master_ports(),
                       "hostNetwork": self._host_network(self.component("master").network_mode)},
            "worker": {"replicas": self.replicas, "ports": self.worker_ports(),
                       "hostNetwork": self._host_network(self.component("worker").network_mode)},
            "fuse": {"image": self._fuse_image(), "mountPath": self.fuse_path,
                     "args": list(fuse.args or []) if fuse else []},
            "properties": self.site_properties(),
            "tieredstore": [{k: v for k, v in {"mediumtype": lv.mediumtype, "path": lv.path, "quota": lv.quota,
                                               "volumeType": lv.volume_type}.items() if v} for lv in self.levels],
            "placement": self.placement,
            "mounts": ufs.option_records(ds, self.mounts_in_effect()),
            "apiGateway": {"enabled": self.spec.api_gateway_enabled},
        }

    # -- workloads -----------------------------------------------------------------------------

    def _image(self, role: str) -> tuple[str, str | None]:
        version = self.spec.alluxio_version
        comp = self.component(role)
        image = comp.image or (version.image if version and version.image else DEFAULT_IMAGE)
        tag = comp.image_tag or (version.image_tag if version and version.image_tag else DEFAULT_TAG)
        return f"{image}:{tag}", version.image_pull_policy if version else None

    def operation_image(self) -> str:
        return self._image("master")[0]

    def operation_commands(self, op: Operation) -> list[list[str]]:
        return operations.commands(op)

    def operation_volumes(self, op: Operation) -> tuple[list[Obj], list[Obj]]:
        return operations.volumes(op)

    def _fuse_image(self) -> str:
        fuse, version = self.spec.fuse, self.spec.alluxio_version
        image = (fuse.image if fuse and fuse.image else None) or (version.image if version and version.image
                                                                   else DEFAULT_IMAGE)
        tag = (fuse.image_tag if fuse and fuse.image_tag else None) or (
            version.image_tag if version and version.image_tag else DEFAULT_TAG)
        return f"{image}:{tag}"

    def _config_env(self, role: str) -> list[Obj]:
        return [{"name": key, "valueFrom": {"configMapKeyRef": {"name": self.config_name, "key": key}}}
                for key in JAVA_OPTS[role]]

    def _container(self, name: str, role: str, comp: AlluxioCompTemplateSpec, args: list[str],
                   ports: dict[str, int], mounts: list[Obj]) -> Obj:
        image, policy = self._image(role)
        return objects.compact({
            "name": name,
            "image": image,
            "imagePullPolicy": policy,
            "args": args,
            "env": [*self._config_env(role), *env_list(comp.env)],
            "ports": port_list(ports),
            "resources": comp.resources,
            "securityContext": self.security_context(),
            "volumeMounts": [{"name": "alluxio-conf", "mountPath": f"{CONF_DIR}/{SITE}", "subPath": SITE},
                             *mounts],
        })

    def _conf_volume(self) -> Obj:
        return {"name": "alluxio-conf", "configMap": {"name": self.config_name}}

    def workload(self, role: str) -> Workload:
        native_vols, native_mounts = self.native_volumes()
        ds = self.ctx.dataset
        tolerations = list(ds.spec.tolerations or []) if ds else []
        if role == "fuse":
            return self._fuse_workload(native_vols, native_mounts, tolerations)
        comp, job = self.component(role), self.component(f"job_{role}")
        user_vols, user_mounts = self.user_volumes(comp.volume_mounts)
        labels, annotations = self.pod_metadata(comp.pod_metadata)
        ports = self.master_ports() if role == "master" else self.worker_ports()
        own = {k: v for k, v in ports.items() if not k.startswith("job-") and k != PROXY_PORT}
        jobs = {k: v for k, v in ports.items() if k.startswith("job-")}
        volumes = [self._conf_volume(), *native_vols, *user_vols]
        mounts = [*native_mounts, *user_mounts]
        if role == "master":
            # The mount commands run in alluxio-master and read Secret-backed options from these files.
            secret_vols, secret_mounts = ufs.secret_volumes(ds, self.mounts_in_effect())
            volumes += secret_vols
            containers = [
                self._container("alluxio-master", role, comp, ["master-only", "--no-format"], own,
                                [*mounts, *secret_mounts]),
                self._container("alluxio-job-master", role, job, ["job-master"], jobs, mounts),
            ]
            if self.spec.api_gateway_enabled:
                gateway = self.spec.api_gateway or AlluxioCompTemplateSpec()
                containers.append(self._container("alluxio-proxy", role, gateway, ["proxy"],
                                                  {"rest": ports[PROXY_PORT]}, mounts))
        else:
            tier_vols, tier_mounts = self.tier_volumes()
            volumes += tier_vols
            containers = [
                self._container("alluxio-worker", role, comp, ["worker-only", "--no-format"], own,
                                [*tier_mounts, *mounts]),
                self._container("alluxio-job-worker", role, job, ["job-worker"], jobs, [*tier_mounts, *mounts]),
            ]
        return Workload(
            role=role, containers=containers, volumes=volumes,
            host_network=self._host_network(comp.network_mode),
            node_selector=dict(comp.node_selector or {}),
            tolerations=tolerations if role == "worker" else [],
            labels=labels, annotations=annotations,
            image_pull_secrets=self.pull_secrets(comp.image_pull_secrets),
            config_checksum=self._checksum(role),
        )

    def _fuse_workload(self, native_vols: list[Obj], native_mounts: list[Obj], tolerations: list[Obj]) -> Workload:
        fuse = self.spec.fuse
        parent = self.fuse_path.rsplit("/", 1)[0]
        user_vols, user_mounts = self.user_volumes(fuse.volume_mounts if fuse else None)
        labels, annotations = self.pod_metadata(fuse.pod_metadata if fuse else None)
        args = list(fuse.args) if fuse and fuse.args else ["fuse", "--fuse-opts=kernel_cache,allow_other"]
        image, policy = self._fuse_image(), fuse.image_pull_policy if fuse else None
        container = objects.compact({
            "name": "alluxio-fuse",
            "image": image,
            "imagePullPolicy": policy or (self.spec.alluxio_version.image_pull_policy
                                          if self.spec.alluxio_version else None),
            "args": [*args, self.fuse_path, "/"],
            "env": [*self._config_env("fuse"), *env_list(fuse.env if fuse else None)],
            "resources": fuse.resources if fuse else None,
            "securityContext": {"privileged": True},
            "volumeMounts": [
                {"name": "alluxio-conf", "mountPath": f"{CONF_DIR}/{SITE}", "subPath": SITE},
                {"name": "fuse-device", "mountPath": "/dev/fuse"},
                {"name": "fuse-mount", "mountPath": parent, "mountPropagation": "Bidirectional"},
                *native_mounts, *user_mounts,
            ],
        })
        return Workload(
            role="fuse", containers=[container],
            volumes=[self._conf_volume(),
                     {"name": "fuse-device", "hostPath": {"path": "/dev/fuse", "type": "CharDevice"}},
                     {"name": "fuse-mount", "hostPath": {"path": parent, "type": "DirectoryOrCreate"}},
                     *native_vols, *user_vols],
            host_network=self._host_network(fuse.network_mode if fuse else None),
            node_selector=dict((fuse.node_selector if fuse else None) or {}),
            tolerations=tolerations, labels=labels, annotations=annotations,
            image_pull_secrets=self.pull_secrets(fuse.image_pull_secrets if fuse else None),
            config_checksum=self._checksum("fuse"),
        )

    def hcfs_endpoint(self) -> str:
        return f"alluxio://{self.master_host(0)}:{self.master_ports()['rpc']}"

    def status_extras(self, status: RuntimeStatus) -> None:
        if self.spec.api_gateway_enabled:
            status.api_gateway = APIGatewayStatus(endpoint=f"{self.master_host(0)}:{self.master_ports()[PROXY_PORT]}")
        else:
            status.api_gateway = None

    # -- commands (engines.alluxio.cli) ------------------------------------------------------------

    def list_mounts(self) -> dict[str, MountedUFS]:
        return cli.parse_mounts(self.run(cli.LIST_MOUNTS))

    def mount_argv(self, mount: ResolvedMount) -> list[str]:
        return cli.mount_argv(mount)

    def unmount_argv(self, path: str) -> list[str]:
        return cli.unmount_argv(path)

    def cache_report(self, hits: bool = True) -> CacheReport:
        summary = self.run(cli.REPORT_SUMMARY)
        if not cli.has_capacity(summary):
            raise CacheCommandError(f"{self.ref}: `alluxio fsadmin report summary` printed no 'Total Capacity' line")
        return cli.parse_report(summary, self.run(cli.REPORT_METRICS) if hits else None)

    def metadata(self, paths: Sequence[str], load: bool) -> tuple[int, int | None]:
        timeout = self.metadata_timeout
        if load:
            for path in paths:
                self.run(cli.load_metadata_argv(path), timeout=timeout)
        text = self.run(cli.COUNT_ROOT, timeout=timeout)
        counted = cli.parse_count(text)
        if counted is None:
            raise CacheCommandError(f"{self.ref}: `alluxio fs count /` printed {text.splitlines()!r}, "
                                    "not the count table")
        return counted

    def clean_cache_argv(self) -> list[str]:
        return cli.FREE_ALL

    # -- checks (engines.alluxio.checks) ------------------------------------------------------------

    def engine_errors(self) -> list[FieldError]:
        return checks.engine_errors(self)
