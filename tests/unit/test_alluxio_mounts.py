"""An Alluxio pair's mounts: argument vectors, options, Secrets, native volumes, and
keeping the cache's mount table in line with the Dataset.

The in-memory cluster and stand-in CLIs are ``tests.unit.cache_cluster``; the ``cluster`` and ``bound``
fixtures are in conftest."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from engines.alluxio.kind import KIND_SPEC as ALLUXIO
from lifecycle.k8s.gateway import CONFIG_MAP, DAEMON_SET, SECRET, STATEFUL_SET
from lifecycle.local.standin import cache as standin
from tests.unit.cache_cluster import NAME, NS, SECRET_VALUE, FakeCluster, alluxio_manifest, dataset_manifest


def test_mounts_are_argument_vectors_with_options_merged_in_the_reference_order(bound: FakeCluster) -> None:
    mounts = bound.commands("mount")
    mounts = [argv for argv in mounts if argv[-1].startswith("s3://")]
    assert mounts == [
        ["alluxio", "fs", "mount", "--readonly",
         "--option", "alluxio.underfs.s3.endpoint=s3.example.com",
         "--option", "alluxio.underfs.s3.threads.max=64",
         "--option", "aws.secretKey=/etc/fluid/secrets/s3-keys/secret",  # the file, never the value
         "--option", "fs.s3a.region=eu-west-1",  # the mount's own option wins over sharedOptions
         "/train", "s3://imagenet/train"],
        ["alluxio", "fs", "mount", "--option", "alluxio.underfs.s3.threads.max=64",
         "--option", "fs.s3a.region=us-east-1", "/val", "s3://imagenet/val"],
    ]
    assert all(pod == "imagenet-master-0" and container == "alluxio-master" for pod, container, _ in bound.execs)
    table = standin.mounts(bound.state_dir("imagenet-master-0"))
    assert [(m["path"], m["ufs"], m["readonly"]) for m in table] == [
        ("/train", "s3://imagenet/train", True), ("/val", "s3://imagenet/val", False)]
    # The tool read the value from the Secret volume mounted into the master container.
    assert table[0]["secrets"] == {"aws.secretKey": standin.fingerprint(SECRET_VALUE)}
    master = bound.get(STATEFUL_SET, "imagenet-master")["spec"]["template"]["spec"]
    assert {"name": "mount-secret-s3-keys", "secret": {"secretName": "s3-keys"}} in master["volumes"]
    assert {"name": "mount-secret-s3-keys", "mountPath": "/etc/fluid/secrets/s3-keys", "readOnly": True} \
        in master["containers"][0]["volumeMounts"]


def test_secret_values_appear_only_in_the_mount_command(bound: FakeCluster) -> None:
    stored = [o for o in bound.gw.all_objects() if o["kind"] != "Secret"]
    assert SECRET_VALUE not in json.dumps(stored)
    assert SECRET_VALUE not in json.dumps([e.message for e in bound.gw.events])
    table = json.loads(bound.get(CONFIG_MAP, "imagenet-mount-config")["data"]["mounts.json"])
    assert table[0]["encryptOptions"] == [{"name": "aws.secretKey",
                                           "valueFrom": {"secretKeyRef": {"name": "s3-keys", "key": "secret"}}}]
    assert "aws.secretKey" not in table[0]["options"]


def test_a_failing_mount_never_shows_the_secret(cluster: FakeCluster) -> None:
    train = cluster.root / "ufs" / "s3" / "imagenet" / "train"
    train.rename(train.with_name("later"))
    cluster.gw.create(dataset_manifest())
    cluster.gw.create(alluxio_manifest())
    outcome = cluster.settle(passes=4)
    assert outcome.failure is not None and "exited with status 1: Ufs path s3://imagenet/train does not exist" \
        in outcome.failure
    assert "--option aws.secretKey=/etc/fluid/secrets/s3-keys/secret " in outcome.failure
    assert SECRET_VALUE not in outcome.failure
    assert "check spec.mounts[0] of Dataset team/imagenet: the mountPoint must exist" in outcome.failure
    texts = json.dumps([o for o in cluster.gw.all_objects() if o["kind"] != "Secret"]) + json.dumps(
        [e.message for e in cluster.gw.events])
    assert SECRET_VALUE not in texts
    runtime = cluster.get(ALLUXIO.resource, NAME)
    assert runtime["status"]["lifecycle"]["state"] == "PreparingUFS"
    assert cluster.dataset()["status"]["conditions"][0]["reason"] == "DatasetFailedToSetup"
    train.with_name("later").rename(train)
    cluster.settle()
    assert cluster.dataset()["status"]["phase"] == "Bound"


def mount_commands(cluster: FakeCluster) -> list[list[str]]:
    """``alluxio fs mount PATH UFS`` commands, not the bare ``alluxio fs mount`` that lists them."""
    return [argv for argv in cluster.commands("mount") if len(argv) > 3]


def test_a_rotated_secret_remounts_only_the_mounts_that_read_it(bound: FakeCluster) -> None:
    state = bound.state_dir("imagenet-master-0")
    recorded = bound.get(ALLUXIO.resource, NAME)["status"]["mountSecretVersions"]
    assert set(recorded) == {"s3-keys"}
    bound.gw.patch(SECRET, NS, "s3-keys", {"data": {"secret": base64.b64encode(b"rotated-Key+43").decode()}})
    mounts_before = len(mount_commands(bound))
    bound.settle(passes=2)
    table = {m["path"]: m for m in standin.mounts(state)}
    assert table["/train"]["secrets"]["aws.secretKey"] == standin.fingerprint("rotated-Key+43")
    remounted = [argv[-2] for argv in mount_commands(bound)[mounts_before:]]
    assert remounted == ["/train"]  # /val reads no Secret and stays mounted
    reasons = [e.message for e in bound.gw.events if e.reason == "MountsUpdated"]
    assert reasons and "changed Secret s3-keys" in reasons[-1] and "rotated-Key" not in reasons[-1]
    assert bound.get(ALLUXIO.resource, NAME)["status"]["mountSecretVersions"] != recorded
    assert bound.dataset()["status"]["phase"] == "Bound"
    bound.settle(passes=3)
    assert [argv[-2] for argv in mount_commands(bound)[mounts_before:]] == ["/train"]  # once


def test_a_deleted_secret_leaves_the_working_mount_alone(bound: FakeCluster) -> None:
    mounts_before = len(mount_commands(bound))
    bound.gw.delete(SECRET, NS, "s3-keys")
    bound.settle(passes=3)
    assert len(mount_commands(bound)) == mounts_before
    assert bound.dataset()["status"]["phase"] == "Bound"


def test_local_and_pvc_mounts_are_pod_volumes_below_the_root_ufs_not_cache_mounts(cluster: FakeCluster) -> None:
    s3 = dataset_manifest()["spec"]["mounts"][:1]
    cluster.gw.create(dataset_manifest(mounts=[
        *s3, {"mountPoint": "local:///mnt/datasets/local", "name": "local"},
        {"mountPoint": "pvc://team-claim/images/2024", "name": "images", "readOnly": True}]))
    cluster.gw.create(alluxio_manifest())
    cluster.settle()
    assert cluster.dataset()["status"]["phase"] == "Bound"
    assert [m["name"] for m in cluster.dataset()["status"]["mounts"]] == ["train", "local", "images"]
    for sts in ("imagenet-master", "imagenet-worker", "imagenet-fuse"):
        kind = DAEMON_SET if sts.endswith("fuse") else STATEFUL_SET
        pod = cluster.get(kind, sts)["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert volumes["native-1"]["hostPath"] == {"path": "/mnt/datasets/local", "type": "Directory"}, sts
        assert volumes["native-2"]["persistentVolumeClaim"] == {"claimName": "team-claim"}, sts
        mounts = {m["name"]: m for m in pod["containers"][0]["volumeMounts"]}
        assert mounts["native-1"] == {"name": "native-1", "mountPath": "/underFSStorage/local"}, sts
        assert mounts["native-2"] == {"name": "native-2", "mountPath": "/underFSStorage/images",
                                      "subPath": "images/2024", "readOnly": True}, sts
    # The cache sees them through its root UFS: only the s3 mount is mounted by command.
    assert sorted(m["path"] for m in standin.mounts(cluster.state_dir("imagenet-master-0"))) == ["/train"]
    assert [argv[-1] for argv in mount_commands(cluster)] == ["s3://imagenet/train"]


def test_a_missing_secret_is_named_with_its_fix(cluster: FakeCluster) -> None:
    cluster.gw.delete(SECRET, NS, "s3-keys")
    cluster.gw.create(dataset_manifest())
    cluster.gw.create(alluxio_manifest())
    outcome = cluster.settle(passes=4)
    assert outcome.failure is not None
    assert "spec.mounts[0].encryptOptions[0] (aws.secretKey) reads Secret team/s3-keys, which does not exist" \
        in outcome.failure
    assert "create it or fix valueFrom.secretKeyRef.name" in outcome.failure


def test_an_option_with_shell_metacharacters_is_one_literal_argument(cluster: FakeCluster, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    hostile = f"a;touch {marker} $(id) `id` | cat"
    cluster.gw.create(dataset_manifest(mounts=[{"mountPoint": "s3://imagenet/train", "name": "train",
                                                "options": {"alluxio.underfs.s3.endpoint": hostile}}],
                                      sharedOptions={}))
    cluster.gw.create(alluxio_manifest())
    cluster.settle()
    assert [argv for argv in cluster.commands("mount") if len(argv) > 3] == [["alluxio", "fs", "mount", "--option",
                                             f"alluxio.underfs.s3.endpoint={hostile}", "/train",
                                             "s3://imagenet/train"]]
    table = standin.mounts(cluster.state_dir("imagenet-master-0"))
    assert table[0]["options"] == {"alluxio.underfs.s3.endpoint": hostile}
    assert not marker.exists()


def test_the_first_setup_mounts_without_listing_the_table_first(bound: FakeCluster) -> None:
    in_master = [argv for pod, _, argv in bound.execs if pod == "imagenet-master-0"]
    first_mounts = [i for i, argv in enumerate(in_master) if argv[:3] == ["alluxio", "fs", "mount"]][:2]
    assert [in_master[i][-2:] for i in first_mounts] == [["/train", "s3://imagenet/train"], ["/val", "s3://imagenet/val"]]


def test_a_path_mounted_before_a_crash_is_found_by_the_listing_and_not_mounted_twice(cluster: FakeCluster) -> None:
    # The operator mounted /train, then died before recording it: the master's table has it, the status not.
    made = cluster.exec(NS, "imagenet-master-0", "alluxio-master",
                        ["alluxio", "fs", "mount", "--readonly", "/train", "s3://imagenet/train"])
    assert made.code == 0, made.stderr
    cluster.execs.clear()
    cluster.gw.create(dataset_manifest())
    cluster.gw.create(alluxio_manifest())
    outcome = cluster.settle()
    assert outcome.failure is None and cluster.dataset()["status"]["phase"] == "Bound"
    in_master = [argv[2:] if len(argv) <= 3 else argv[-2:] for pod, _, argv in cluster.execs
                 if pod == "imagenet-master-0" and argv[:3] == ["alluxio", "fs", "mount"]]
    # The mount of /train fails (taken), the listing shows it is there, /val is mounted.
    assert in_master[:3] == [["/train", "s3://imagenet/train"], ["mount"], ["/val", "s3://imagenet/val"]]
    table = standin.mounts(cluster.state_dir("imagenet-master-0"))
    assert [(m["path"], m["ufs"]) for m in table] == [("/train", "s3://imagenet/train"), ("/val", "s3://imagenet/val")]
