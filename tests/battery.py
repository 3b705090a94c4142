"""The bad-manifest battery: Dataset/runtime pairs with one mistake each, as users and hostile tenants
write them.

Each case names the field its refusal must name. ``api`` is what the API server's refusal must
contain when the CRD schema or a CEL rule catches the mistake (None: the schema cannot say it, so
the operator is the door). Every case, whichever door it has, is refused by ``fluidlc validate`` and
by the operator with the same words (tests/unit/test_battery.py) and by the real API server or the
operator running against it (tests/cluster/test_battery.py).
"""

from __future__ import annotations

import copy
from typing import Any

import attrs

import engines.alluxio
import engines.jindo
from lifecycle.engine.registry import Registry

Obj = dict[str, Any]
API_VERSION = "data.fluid.io/v1alpha1"
SECRET = "battery-keys"  # a Secret the valid pairs name; the battery never needs its value



def cache_registry() -> Registry:
    """The engines the battery's runtimes need."""
    registry = Registry()
    engines.alluxio.register(registry)
    engines.jindo.register(registry)
    return registry


@attrs.frozen
class Case:
    id: str
    dataset: Obj
    runtime: Obj
    field: str  # what the operator's and fluidlc validate's message names
    api: str | None = None  # what the API server's refusal names, if the schema refuses the case

    def documents(self, namespace: str) -> list[Obj]:
        docs = [copy.deepcopy(self.dataset), copy.deepcopy(self.runtime)]
        for doc in docs:
            doc["metadata"]["namespace"] = namespace
        return docs

    @property
    def name(self) -> str:
        return str(self.dataset["metadata"]["name"])


def mount(**fields: Any) -> Obj:
    return {"mountPoint": "s3://imagenet/train", "name": "train", **fields}


def level(**fields: Any) -> Obj:
    return {"mediumtype": "MEM", "path": "/dev/shm", "quota": "2Gi", **fields}


def dataset(name: str, mounts: Any = None, annotations: Obj | None = None, **spec: Any) -> Obj:
    meta: Obj = {"name": name, **({"annotations": annotations} if annotations else {})}
    body = {"mounts": [mount()] if mounts is None else mounts, **spec}
    return {"apiVersion": API_VERSION, "kind": "Dataset", "metadata": meta, "spec": body}


def runtime(kind: str, name: str, **spec: Any) -> Obj:
    body = {"replicas": 1, "tieredstore": {"levels": [level()]}, **spec}
    return {"apiVersion": API_VERSION, "kind": kind, "metadata": {"name": name}, "spec": body}


def on_alluxio(case_id: str, field: str, api: str | None = None, mounts: Any = None,
               annotations: Obj | None = None, **spec: Any) -> Case:
    """A case whose mistake is in the Dataset; the AlluxioRuntime beside it is valid."""
    return Case(case_id, dataset(case_id, mounts, annotations, **spec), runtime("AlluxioRuntime", case_id), field, api)


def alluxio(case_id: str, field: str, api: str | None = None, **spec: Any) -> Case:
    """A case whose mistake is in the AlluxioRuntime; the Dataset beside it is valid."""
    return Case(case_id, dataset(case_id), runtime("AlluxioRuntime", case_id, **spec), field, api)


def jindo(case_id: str, field: str, api: str | None = None, mounts: Any = None, **spec: Any) -> Case:
    return Case(case_id, dataset(case_id, [mount(mountPoint="oss://imagenet/train")] if mounts is None else mounts),
                runtime("JindoRuntime", case_id, **spec), field, api)


def named(name: str, api: str) -> Case:
    """A pair whose (shared) name Kubernetes or our CEL rule refuses."""
    return Case(f"name {name}", dataset(name), runtime("AlluxioRuntime", name), "metadata.name", api)


SECRET_REF = {"secretKeyRef": {"name": SECRET, "key": "secret"}}

CASES: tuple[Case, ...] = (
    # -- the Dataset's mounts --------------------------------------------------------------
    Case("no-mounts", {"apiVersion": API_VERSION, "kind": "Dataset", "metadata": {"name": "no-mounts"}, "spec": {}},
         runtime("AlluxioRuntime", "no-mounts"), "spec.mounts"),
    on_alluxio("empty-mounts", "spec.mounts", "spec.mounts", mounts=[]),
    on_alluxio("mounts-not-a-list", "spec.mounts", "spec.mounts", mounts="s3://imagenet/train"),
    on_alluxio("too-many-mounts", "spec.mounts", "spec.mounts",
               mounts=[mount(name=f"m{i}", mountPoint=f"s3://imagenet/m{i}") for i in range(65)]),
    on_alluxio("mount-point-missing", "spec.mounts[0].mountPoint", "spec.mounts[0].mountPoint",
               mounts=[{"name": "train"}]),
    on_alluxio("mount-point-short", "spec.mounts[0].mountPoint", "spec.mounts[0].mountPoint",
               mounts=[mount(mountPoint="s3:/")]),
    on_alluxio("mount-point-too-long", "spec.mounts[0].mountPoint", "spec.mounts[0].mountPoint",
               mounts=[mount(mountPoint="s3://imagenet/" + "a" * 4096)]),
    on_alluxio("mount-point-newline", "spec.mounts[0].mountPoint", "spec.mounts[0].mountPoint",
               mounts=[mount(mountPoint="s3://imagenet/train\nalluxio.master.hostname=evil")]),
    on_alluxio("mount-name-duplicate", "spec.mounts[1].name", "spec.mounts",
               mounts=[mount(), mount(mountPoint="s3://imagenet/val")]),
    on_alluxio("mount-name-newline", "spec.mounts[0].name", "spec.mounts[0].name", mounts=[mount(name="tr\nain")]),
    on_alluxio("mount-path-dotdot", "spec.mounts[0].path", "spec.mounts[0].path",
               mounts=[mount(path="/a/../../etc")]),
    on_alluxio("mount-path-newline", "spec.mounts[0].path", "spec.mounts[0].path", mounts=[mount(path="/a\n/b")]),
    on_alluxio("mount-path-relative", "spec.mounts[0].path", mounts=[mount(path="train")]),
    on_alluxio("mount-path-duplicate", "spec.mounts[1].path",
               mounts=[mount(path="/p"), mount(name="val", mountPoint="s3://imagenet/val", path="/p/")]),
    on_alluxio("mount-nameless-pathless", "spec.mounts[0].name",
               mounts=[{"mountPoint": "s3://imagenet/train"}, {"mountPoint": "s3://imagenet/val"}]),
    on_alluxio("mount-dataset-ref-not-alone", "spec.mounts[0].mountPoint",
               mounts=[{"mountPoint": "dataset://team/other"}, mount()]),
    on_alluxio("mount-option-newline", "spec.mounts[0].options[alluxio.underfs.s3.region]",
               mounts=[mount(options={"alluxio.underfs.s3.region": "eu\nalluxio.master.hostname=evil"})]),
    on_alluxio("mount-option-key-newline", "spec.mounts[0].options key",
               mounts=[mount(options={"alluxio.x\n[evil]": "1"})]),
    on_alluxio("mount-options-not-a-map", "spec.mounts[0].options", "spec.mounts[0].options",
               mounts=[mount(options="alluxio.underfs.s3.region=eu")]),
    on_alluxio("mount-read-only-not-bool", "spec.mounts[0].readOnly", "spec.mounts[0].readOnly",
               mounts=[mount(readOnly="yes")]),
    on_alluxio("encrypt-option-no-secret", "spec.mounts[0].encryptOptions[0].valueFrom.secretKeyRef",
               mounts=[mount(encryptOptions=[{"name": "aws.secretKey"}])]),
    on_alluxio("encrypt-option-no-name", "spec.mounts[0].encryptOptions[0].name",
               "spec.mounts[0].encryptOptions[0].name", mounts=[mount(encryptOptions=[{"valueFrom": SECRET_REF}])]),
    on_alluxio("encrypt-option-name-newline", "spec.mounts[0].encryptOptions[0].name",
               mounts=[mount(encryptOptions=[{"name": "aws.secretKey\nx", "valueFrom": SECRET_REF}])]),
    on_alluxio("alluxio-cannot-mount-juicefs", "spec.mounts[0].mountPoint",
               mounts=[mount(mountPoint="juicefs:///demo")]),
    on_alluxio("alluxio-cannot-serve-dataset-ref", "spec.mounts[0].mountPoint",
               mounts=[{"mountPoint": "dataset://team/other"}]),
    # -- the rest of the Dataset -----------------------------------------------------------
    on_alluxio("shared-option-newline", "spec.sharedOptions[alluxio.underfs.s3.region]",
               sharedOptions={"alluxio.underfs.s3.region": "eu\n[evil]"}),
    on_alluxio("placement-unknown", "spec.placement", "spec.placement", placement="Spread"),
    on_alluxio("access-mode-unknown", "spec.accessModes[0]", "spec.accessModes[0]", accessModes=["ReadMany"]),
    on_alluxio("capacity-not-a-quantity", "metadata.annotations[pvc.fluid.io/resources.requests.storage]",
               annotations={"pvc.fluid.io/resources.requests.storage": "lots"}),
    named("ImageNet", "metadata.name"),
    named("9imagenet", "metadata.name"),
    named("image.net", "metadata.name"),
    named("imagenet-" + "x" * 55, "metadata.name"),
    # -- the runtime: workers and tiers ------------------------------------------------------
    alluxio("replicas-negative", "spec.replicas", "spec.replicas", replicas=-1),
    alluxio("replicas-not-a-number", "spec.replicas", "spec.replicas", replicas="three"),
    alluxio("tier-without-quota", "spec.tieredstore.levels[0].quota", "spec.tieredstore.levels[0]",
            tieredstore={"levels": [{"mediumtype": "MEM", "path": "/dev/shm"}]}),
    alluxio("ssd-tier-without-path", "spec.tieredstore.levels[0].path", "spec.tieredstore.levels[0]",
            tieredstore={"levels": [{"mediumtype": "SSD", "quota": "10Gi"}]}),
    alluxio("tier-medium-unknown", "spec.tieredstore.levels[0].mediumtype", "spec.tieredstore.levels[0].mediumtype",
            tieredstore={"levels": [level(mediumtype="NVME")]}),
    alluxio("tier-medium-twice", "spec.tieredstore.levels[1].mediumtype", "spec.tieredstore.levels",
            tieredstore={"levels": [level(), level(path="/mnt/mem2")]}),
    alluxio("tiers-too-many", "spec.tieredstore.levels", "spec.tieredstore.levels",
            tieredstore={"levels": [level(), level(mediumtype="SSD", path="/mnt/ssd"),
                                    level(mediumtype="HDD", path="/mnt/hdd"), level(mediumtype="HDD", path="/x")]}),
    alluxio("tier-volume-type-unknown", "spec.tieredstore.levels[0].volumeType",
            "spec.tieredstore.levels[0].volumeType", tieredstore={"levels": [level(volumeType="nfs")]}),
    alluxio("tier-quota-not-a-quantity", "spec.tieredstore.levels[0].quota",
            tieredstore={"levels": [level(quota="lots")]}),
    alluxio("tier-path-relative", "spec.tieredstore.levels[0].path",
            tieredstore={"levels": [level(mediumtype="SSD", path="cache")]}),
    alluxio("tier-path-climbs-out", "spec.tieredstore.levels[0].path",
            tieredstore={"levels": [level(mediumtype="SSD", path="/mnt/../etc")]}),
    alluxio("tier-path-newline", "spec.tieredstore.levels[0].path",
            tieredstore={"levels": [level(path="/dev/shm\nalluxio.worker.x=1")]}),
    alluxio("tier-quota-list-short", "spec.tieredstore.levels[0].quotaList",
            tieredstore={"levels": [{"mediumtype": "SSD", "path": "/mnt/a,/mnt/b", "quotaList": "1Gi"}]}),
    alluxio("tier-quota-list-bad", "spec.tieredstore.levels[0].quotaList",
            tieredstore={"levels": [{"mediumtype": "SSD", "path": "/mnt/a,/mnt/b", "quotaList": "1Gi,lots"}]}),
    alluxio("tier-high-not-a-ratio", "spec.tieredstore.levels[0].high",
            tieredstore={"levels": [level(high="1.5")]}),
    alluxio("tier-low-above-high", "spec.tieredstore.levels[0].low",
            tieredstore={"levels": [level(high="0.5", low="0.9")]}),
    # -- the runtime: configuration that lands in files and command lines ---------------------
    alluxio("property-value-newline", "spec.properties[alluxio.user.file.readtype.default]",
            properties={"alluxio.user.file.readtype.default": "CACHE\nalluxio.master.hostname=evil"}),
    alluxio("property-key-newline", "spec.properties key", properties={"alluxio.x\nalluxio.y": "1"}),
    alluxio("properties-not-a-map", "spec.properties", "spec.properties", properties=["alluxio.x=1"]),
    alluxio("jvm-options-a-string", "spec.jvmOptions", "spec.jvmOptions", jvmOptions="-Xmx1g"),
    alluxio("jvm-option-with-space", "spec.jvmOptions[0]", jvmOptions=["-Xmx1g -Dalluxio.master.hostname=evil"]),
    alluxio("master-jvm-option-newline", "spec.master.jvmOptions[0]", master={"jvmOptions": ["-Xmx1g\n-Devil"]}),
    alluxio("worker-property-with-space", "spec.worker.properties[alluxio.worker.x]",
            worker={"properties": {"alluxio.worker.x": "a -Devil=1"}}),
    alluxio("fuse-property-with-space", "spec.fuse.properties[alluxio.fuse.x]",
            fuse={"properties": {"alluxio.fuse.x": "a b"}}),
    # -- the runtime: components ----------------------------------------------------------------
    alluxio("masters-even", "spec.master.replicas", master={"replicas": 2}),
    alluxio("masters-none", "spec.master.replicas", "spec.master.replicas", master={"replicas": 0}),
    alluxio("job-masters-apart", "spec.jobMaster.replicas", master={"replicas": 1}, jobMaster={"replicas": 3}),
    alluxio("fuse-clean-policy-unknown", "spec.fuse.cleanPolicy", "spec.fuse.cleanPolicy",
            fuse={"cleanPolicy": "Never"}),
    alluxio("master-network-mode-unknown", "spec.master.networkMode", "spec.master.networkMode",
            master={"networkMode": "Bridge"}),
    alluxio("clean-cache-grace-negative", "spec.management.cleanCachePolicy.gracePeriodSeconds",
            "spec.management.cleanCachePolicy.gracePeriodSeconds",
            management={"cleanCachePolicy": {"gracePeriodSeconds": -5}}),
    # -- Jindo ------------------------------------------------------------------------------
    jindo("jindo-workers-without-master", "spec.worker.disabled", master={"disabled": True}),
    jindo("jindo-everything-disabled", "spec.fuse.disabled", master={"disabled": True}, worker={"disabled": True},
          fuse={"disabled": True}),
    jindo("jindo-masters-even", "spec.master.replicas", master={"replicas": 2}),
    jindo("jindo-property-key-is-a-section", "spec.properties[[secrets]]", properties={"[secrets]": "x"}),
    jindo("jindo-mount-option-key-with-equals", "spec.mounts[0].options[fs.oss.a=b]",
          mounts=[mount(mountPoint="oss://imagenet/train", options={"fs.oss.a=b": "1"})]),
    jindo("jindo-cannot-mount-http", "spec.mounts[0].mountPoint", mounts=[mount(mountPoint="https://example.com/x")]),
    jindo("jindo-network-mode-unknown", "spec.networkmode", "spec.networkmode", networkmode="Bridge"),
    jindo("jindo-clean-cache-retries-negative", "spec.cleanCachePolicy.maxRetryAttempts",
          "spec.cleanCachePolicy.maxRetryAttempts", cleanCachePolicy={"maxRetryAttempts": -1}),
)
