"""The cache CLI stand-ins, run as separate processes exactly as kwok runs them for pod execs.

Engines will parse this output as they parse the real tools', so the tests parse it the same way
(Fluid-style field splitting and prefixes) and check it against files created in a temporary UFS.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from lifecycle.local.components import Layout, standin_command, write_standin_shims
from lifecycle.local.standin import cache

STANDIN = standin_command()  # what the local cluster's shims run
GIB = 1024**3


@dataclass
class Cluster:
    """A simulated master pod: its state directory, its UFS root and the environment kwok would pass."""

    state_dir: Path
    ufs_root: Path
    env: dict[str, str]

    def run(self, tool: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*STANDIN, tool, *args],
            env={**self.env, **env},
            cwd=self.state_dir,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )

    def alluxio(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return self.run("alluxio", *args, **env)

    def jindo(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return self.run("jindocache", *args, **env)

    def ufs_file(self, relative: str, size: int) -> None:
        path = self.ufs_root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * size)


@pytest.fixture
def cluster(tmp_path: Path) -> Cluster:
    env = {key: value for key, value in os.environ.items() if not key.startswith("STANDIN_")}
    state_dir, ufs_root = tmp_path / "state", tmp_path / "ufs"
    state_dir.mkdir()
    ufs_root.mkdir()
    env.update(STANDIN_STATE_DIR=str(state_dir), STANDIN_UFS_ROOT=str(ufs_root))
    return Cluster(state_dir, ufs_root, env)


def report_value(report: str, prefix: str) -> str:
    """The value after a prefix, the way Fluid reads report lines (trimmed, prefix-matched)."""
    values = [line.strip()[len(prefix) :] for line in report.splitlines() if line.strip().startswith(prefix)]
    assert len(values) == 1, report
    return values[0]


def parse_count(stdout: str) -> tuple[int, int, int]:
    header, numbers = stdout.strip().split("\n")
    assert header.split() == ["File", "Count", "Folder", "Count", "Folder", "Size"]
    files, folders, size = (int(field) for field in numbers.split())
    return files, folders, size


def test_ufs_uris_map_below_the_ufs_root(tmp_path: Path) -> None:
    assert cache.ufs_local_path(tmp_path, "s3://bucket/imagenet") == tmp_path / "s3/bucket/imagenet"
    assert cache.ufs_local_path(tmp_path, "local:///mnt/x") == tmp_path / "local/mnt/x"
    assert cache.ufs_local_path(tmp_path, "hdfs://nn:9000/p/") == tmp_path / "hdfs/nn:9000/p"
    with pytest.raises(cache.StandinError):
        cache.ufs_local_path(tmp_path, "s3://bucket/../../etc")


def test_mount_keeps_an_option_with_shell_metacharacters_as_one_literal_argument(cluster: Cluster) -> None:
    cluster.ufs_file("s3/bucket/imagenet/train/0.jpg", 10)
    secret = """k;ey $(touch pwned) `id` "dq" 'sq' two  spaces=still value"""
    argv = [
        "fs",
        "mount",
        "--readonly",
        "--option",
        f"fs.s3a.secret.key={secret}",
        "--option",
        "fs.s3a.endpoint=http://minio:9000",
        "/imagenet",
        "s3://bucket/imagenet",
    ]

    mounted = cluster.alluxio(*argv)
    listed = cluster.alluxio("fs", "mount")

    assert (mounted.returncode, mounted.stdout, mounted.stderr) == (
        0,
        "Mounted s3://bucket/imagenet at /imagenet\n",
        "",
    )
    assert listed.returncode == 0
    by_path = {line.split()[2]: line for line in listed.stdout.splitlines()}
    assert set(by_path) == {"/imagenet", "/"}
    assert "  on  /imagenet  (s3, capacity=-1B, used=-1B, read-only, not shared, " in by_path["/imagenet"]
    assert by_path["/imagenet"].endswith(
        f"properties={{fs.s3a.secret.key={secret}, fs.s3a.endpoint=http://minio:9000}})"
    )
    assert by_path["/"].startswith("/underFSStorage")
    assert "(local, capacity=0B, used=0B, not read-only, not shared, properties={})" in by_path["/"]
    assert cache.mounts(cluster.state_dir) == [
        {
            "path": "/imagenet",
            "ufs": "s3://bucket/imagenet",
            "readonly": True,
            "shared": False,
            "options": {"fs.s3a.secret.key": secret, "fs.s3a.endpoint": "http://minio:9000"},
            "secrets": {},  # no option named a Secret file
        }
    ]
    assert cache.invocations(cluster.state_dir, "alluxio")[0]["argv"] == argv
    assert not list(cluster.state_dir.rglob("pwned"))


def test_mount_of_a_missing_ufs_or_a_taken_path_fails_without_changing_the_table(cluster: Cluster) -> None:
    cluster.ufs_file("s3/bucket/a/f", 1)
    assert cluster.alluxio("fs", "mount", "/a", "s3://bucket/a").returncode == 0

    missing = cluster.alluxio("fs", "mount", "/b", "s3://bucket/nowhere")
    taken = cluster.alluxio("fs", "mount", "/a", "s3://bucket/a")
    root = cluster.alluxio("fs", "mount", "/", "s3://bucket/a")

    assert missing.returncode != 0
    assert "Ufs path s3://bucket/nowhere does not exist" in missing.stderr
    # ... and where the local cluster looks for it, with the command that fills it.
    assert (f"on the local cluster that is the folder {cluster.ufs_root}/s3/bucket/nowhere: create it with "
            "`fluidlc cluster ufs add s3://bucket/nowhere`") in missing.stderr
    assert taken.returncode != 0
    assert "Mount point /a already exists" in taken.stderr
    assert root.returncode != 0
    assert [m["path"] for m in cache.mounts(cluster.state_dir)] == ["/a"]


def test_count_walks_the_mounted_directories(cluster: Cluster) -> None:
    cluster.ufs_file("s3/bucket/imagenet/train/a.jpg", 1000)
    cluster.ufs_file("s3/bucket/imagenet/train/b.jpg", 2000)
    cluster.ufs_file("s3/bucket/imagenet/val/c.jpg", 300)
    cluster.ufs_file("hdfs/nn:9000/logs/day1/part-0", 45)
    cluster.alluxio("fs", "mount", "/imagenet", "s3://bucket/imagenet")
    cluster.alluxio("fs", "mount", "/logs", "hdfs://nn:9000/logs")

    whole = cluster.alluxio("fs", "count", "/")
    train = cluster.alluxio("fs", "count", "/imagenet/train")
    readable = cluster.alluxio("fs", "count", "-h", "/imagenet")
    missing = cluster.alluxio("fs", "count", "/imagenet/test")

    assert whole.stdout.startswith("File Count               Folder Count             Folder Size")
    assert parse_count(whole.stdout) == (4, 5, 3345)
    assert parse_count(train.stdout) == (2, 0, 3000)
    assert readable.stdout.split("\n")[1].split() == ["3", "2", "3300B"]
    assert missing.returncode != 0
    assert 'Path "/imagenet/test" does not exist.' in missing.stderr


def test_load_metadata_prints_nothing_and_feeds_the_file_count_metric(cluster: Cluster) -> None:
    cluster.ufs_file("s3/bucket/d/x", 1)
    cluster.ufs_file("s3/bucket/d/y/z", 1)
    cluster.alluxio("fs", "mount", "/d", "s3://bucket/d")

    loaded = cluster.alluxio("fs", "loadMetadata", "-R", "-F", "/")
    metrics = cluster.alluxio("fsadmin", "report", "metrics")

    assert (loaded.returncode, loaded.stdout) == (0, "")
    assert "Master.FilesCompleted  (Type: COUNTER, Value: 2)" in metrics.stdout.splitlines()


def test_report_summary_has_the_capacity_lines_engines_parse(cluster: Cluster) -> None:
    summary = cluster.alluxio("fsadmin", "report", "summary", STANDIN_WORKERS="3")
    lines = summary.stdout.splitlines()

    assert summary.returncode == 0
    assert lines[0] == "Alluxio cluster summary: "
    assert lines[1].split()[2] == "localhost:19998"
    assert "    Live Workers: 3" in lines
    assert "    Total Capacity: 6.00GB" in lines
    assert "    Used Capacity: 0B" in lines
    assert lines.count("        Tier: MEM  Size: 6.00GB") == 1
    assert lines.count("        Tier: MEM  Size: 0B") == 1
    assert report_value(summary.stdout, "Free Capacity: ") == "6.00GB"
    assert cluster.alluxio("fsadmin", "report").stdout.splitlines()[0] == "Alluxio cluster summary: "


def test_loading_fills_the_cache_up_to_capacity_and_free_empties_it(cluster: Cluster) -> None:
    cluster.ufs_file("s3/bucket/d/a", 1000)
    cluster.ufs_file("s3/bucket/d/b", 1000)
    cluster.alluxio("fs", "mount", "/d", "s3://bucket/d")
    small = {"STANDIN_CACHE_CAPACITY": "1500", "STANDIN_CACHE_MEDIUM": "ssd"}

    loaded = cluster.alluxio("fs", "distributedLoad", "--replication", "1", "/d", **small)
    summary = cluster.alluxio("fsadmin", "report", "summary", **small)
    freed = cluster.alluxio("fs", "free", "-f", "/")
    after = cluster.alluxio("fsadmin", "report", "summary", **small)

    assert loaded.returncode == 0
    assert "Total completed file count is 2, failed file count is 0" in loaded.stdout
    assert report_value(summary.stdout, "Used Capacity: ") == "1500B"
    assert "        Tier: SSD  Size: 1500B" in summary.stdout.splitlines()
    assert freed.stdout == "/ was successfully freed from Alluxio space.\n"
    assert report_value(after.stdout, "Used Capacity: ") == "0B"
    assert cache.cached_bytes(cluster.state_dir) == 0


def test_metrics_report_shows_values_seeded_by_tests(cluster: Cluster) -> None:
    cache.set_metrics(
        cluster.state_dir,
        BytesReadLocal=GIB,
        BytesReadRemote=3 * 1024,
        BytesReadUfsAll=7 * 1024 * 1024,
        BytesReadLocalThroughput=512 * 1024,
        BytesReadRemoteThroughput=0,
        BytesReadUfsThroughput=10 * 1024 * 1024,
    )

    lines = cluster.alluxio("fsadmin", "report", "metrics").stdout.splitlines()

    assert "Cluster.BytesReadLocal  (Type: COUNTER, Value: 1024.00MB)" in lines
    assert "Cluster.BytesReadRemote  (Type: COUNTER, Value: 3072B)" in lines
    assert "Cluster.BytesReadUfsAll  (Type: COUNTER, Value: 7.00MB)" in lines
    assert "Cluster.BytesReadLocalThroughput  (Type: GAUGE, Value: 512.00KB/MIN)" in lines
    assert "Cluster.BytesReadRemoteThroughput  (Type: GAUGE, Value: 0B/MIN)" in lines
    assert "Cluster.BytesReadUfsThroughput  (Type: GAUGE, Value: 10.00MB/MIN)" in lines
    gauge = re.compile(r"\(Type:\sGAUGE,\sValue:\s(.*)/MIN\)")
    assert all(
        gauge.search(line) for line in lines if line.startswith("Cluster.Bytes") and "Throughput" in line
    )
    assert lines == sorted(lines)


def test_unmount_drops_the_mount_and_its_cached_bytes(cluster: Cluster) -> None:
    cluster.ufs_file("s3/bucket/d/a", 100)
    cluster.alluxio("fs", "mount", "/d", "s3://bucket/d")
    cluster.alluxio("fs", "load", "/d")

    unmounted = cluster.alluxio("fs", "unmount", "/d")
    again = cluster.alluxio("fs", "umount", "/d")

    assert unmounted.stdout == "Unmounted /d\n"
    assert again.returncode != 0
    assert "/d is not a mount point" in again.stderr
    assert cache.mounts(cluster.state_dir) == []
    assert cache.cached_bytes(cluster.state_dir) == 0


def test_listed_sub_commands_fail_on_demand(cluster: Cluster) -> None:
    cluster.ufs_file("s3/bucket/d/a", 1)

    mount = cluster.alluxio("fs", "mount", "/d", "s3://bucket/d", STANDIN_FAIL="mount,count")
    count = cluster.alluxio("fs", "count", "/", STANDIN_FAIL="mount,count")
    summary = cluster.alluxio("fsadmin", "report", "summary", STANDIN_FAIL="mount,count")
    only_jindo = {"STANDIN_FAIL": "jindocache:report"}

    assert (mount.returncode, mount.stdout) == (1, "")
    assert "mount" in mount.stderr
    assert count.returncode == 1
    assert count.stderr
    assert summary.returncode == 0
    assert cache.mounts(cluster.state_dir) == []
    assert cluster.jindo("-report", **only_jindo).returncode == 1
    assert cluster.alluxio("fsadmin", "report", **only_jindo).returncode == 0
    assert [entry["exit"] for entry in cache.invocations(cluster.state_dir, "alluxio")] == [1, 1, 0, 0]


def test_concurrent_invocations_keep_every_update(cluster: Cluster) -> None:
    names = [f"set{index}" for index in range(16)]
    for name in names:
        cluster.ufs_file(f"s3/bucket/{name}/f", 10)

    running = [
        subprocess.Popen(
            [*STANDIN, "alluxio", "fs", "mount", f"/{name}", f"s3://bucket/{name}"],
            env=cluster.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for name in names
    ]
    outputs = [process.communicate(timeout=60) for process in running]

    assert [process.returncode for process in running] == [0] * len(names), outputs
    assert sorted(m["path"] for m in cache.mounts(cluster.state_dir)) == sorted(f"/{n}" for n in names)
    assert cache.counters(cluster.state_dir) == {"alluxio mount": len(names)}
    state = json.loads((cluster.state_dir / cache.STATE_FILE).read_text())
    assert len(state["invocations"]) == len(names)
    assert sorted(p.name for p in cluster.state_dir.iterdir()) == [cache.LOCK_FILE, cache.STATE_FILE]


@pytest.mark.parametrize(
    ("tool", "argv"),
    [
        ("alluxio", []),
        ("alluxio", ["fs"]),
        ("alluxio", ["fs", "bogus", "/"]),
        ("alluxio", ["fs", "mount", "/only-one-arg"]),
        ("alluxio", ["fs", "count", "--nope", "/"]),
        ("alluxio", ["fsadmin", "report", "nonsense"]),
        ("alluxio", ["shell"]),
        ("jindocache", []),
        ("jindocache", ["-bogus"]),
        ("jindocache", ["-mount", "/only-one-arg"]),
        ("jindo", []),
        ("jindo", ["fs", "-ls", "/"]),
        ("jindo", ["fs", "-count"]),
        ("jindo", ["fs", "-count", "-q", "jindo:///data"]),
    ],
)
def test_unknown_or_malformed_commands_exit_non_zero_with_usage(
    cluster: Cluster, tool: str, argv: list[str]
) -> None:
    result = cluster.run(tool, *argv)

    assert result.returncode == 1
    assert result.stdout == ""
    assert "Usage:" in result.stderr


def test_jindocache_mounts_reports_loads_and_formats_its_cache(cluster: Cluster) -> None:
    cluster.ufs_file("oss/bucket/data/a", 1000)
    cluster.ufs_file("oss/bucket/data/sub/b", 3000)

    mounted = cluster.jindo("-mount", "/data", "oss://bucket/data")
    again = cluster.jindo("-mount", "/data", "oss://bucket/data")
    missing = cluster.jindo("-mount", "/none", "oss://bucket/none")
    listed = cluster.jindo("-mount")
    loaded = cluster.jindo("-load", "-meta", "-data", "-s", "-R", "-replica", "1", "jindo:///data")
    report = cluster.jindo("-report", STANDIN_CACHE_MEDIUM="HDD")
    formatted = cluster.jindo("-formatCache", "-force")
    after = cluster.jindo("-report")

    assert mounted.returncode == 0
    assert again.returncode != 0
    assert "Mount point already exists" in again.stdout
    assert missing.returncode != 0
    assert missing.stderr
    assert [line.split()[2] for line in listed.stdout.splitlines()] == ["/data"]
    assert loaded.returncode == 0
    assert report_value(report.stdout, "Total Disk Capacity: ") == "2048.00MB"
    assert report_value(report.stdout, "Used Disk Capacity: ") == "4000B"
    assert report_value(report.stdout, "Used MEM Capacity: ") == "0B"
    assert formatted.returncode == 0
    assert report_value(after.stdout, "Total MEM Capacity: ") == "2048.00MB"
    assert report_value(after.stdout, "Used MEM Capacity: ") == "0B"
    assert cache.mounts(cluster.state_dir, "jindocache")[0]["ufs"] == "oss://bucket/data"


def test_a_missing_ufs_names_the_cluster_the_fill_command_is_for(cluster: Cluster) -> None:
    alluxio = cluster.alluxio("fs", "mount", "/b", "s3://bucket/nowhere", STANDIN_CLUSTER="test")
    jindo = cluster.jindo("-mount", "/b", "oss://bucket/nowhere", STANDIN_CLUSTER="test")
    named = cluster.alluxio("fs", "mount", "/b", "s3://bucket/nowhere", STANDIN_CLUSTER="dev")

    assert "`fluidlc cluster ufs add s3://bucket/nowhere --name test`" in alluxio.stderr
    assert "Failed to mount /b: oss://bucket/nowhere No such file or directory; on the local cluster that is the " \
           f"folder {cluster.ufs_root}/oss/bucket/nowhere: create it with " \
           "`fluidlc cluster ufs add oss://bucket/nowhere --name test`" in jindo.stderr + jindo.stdout
    assert "`fluidlc cluster ufs add s3://bucket/nowhere`" in named.stderr, "dev is the default name"


def test_jindocache_cache_sets_are_listed_once_refreshed(cluster: Cluster) -> None:
    before = cluster.jindo("-listCacheSet")
    refreshed = cluster.jindo("-refreshCacheSet", "-path", "/cacheset.xml")
    after = cluster.jindo("-listCacheSet")

    assert "cacheStrategy" not in before.stdout
    assert refreshed.returncode == 0
    assert any("cacheStrategy" in line for line in after.stdout.splitlines())


def test_jindo_fs_count_sizes_a_mount_in_hadoop_columns(cluster: Cluster) -> None:
    cluster.ufs_file("oss/bucket/data/a", 1000)
    cluster.ufs_file("oss/bucket/data/sub/b", 3000)
    cluster.jindo("-mount", "/data", "oss://bucket/data")

    counted = cluster.run("jindo", "fs", "-count", "jindo:///data", "jindo:///data/sub/b")
    human = cluster.run("jindo", "fs", "-count", "-h", "/data")
    missing = cluster.run("jindo", "fs", "-count", "jindo:///none")

    assert counted.returncode == 0
    assert [line.split() for line in counted.stdout.splitlines()] == [
        ["2", "2", "4000", "jindo:///data"], ["0", "1", "3000", "jindo:///data/sub/b"]]
    assert human.stdout.split()[2] == "4000B"
    assert missing.returncode == 1
    assert "No such file or directory" in missing.stderr
    assert not cache.cached_bytes(cluster.state_dir, "jindocache")


def test_the_shims_run_the_stand_ins_with_only_a_path(cluster: Cluster, tmp_path: Path) -> None:
    """What kwok runs: a shim named like the tool, found on PATH, with nothing else set up."""
    layout = Layout(tmp_path / "cluster")
    shims = write_standin_shims(layout)
    assert [s.name for s in shims] == ["alluxio", "jindocache", "jindo"]
    env = {
        "PATH": f"{layout.standin_bin}{os.pathsep}/usr/bin{os.pathsep}/bin",
        "STANDIN_STATE_DIR": cluster.env["STANDIN_STATE_DIR"],
        "STANDIN_UFS_ROOT": cluster.env["STANDIN_UFS_ROOT"],
    }
    for tool, argv in (("alluxio", ["version"]), ("jindocache", ["-report"]), ("jindo", ["fs", "-count", "/"])):
        assert os.access(layout.standin_bin / tool, os.X_OK)
        result = subprocess.run([tool, *argv], env=env, capture_output=True, text=True, timeout=30, check=False)
        assert (result.returncode, result.stderr) == (0, "")
        assert result.stdout


def test_an_option_naming_a_secret_file_is_read_from_the_pod_and_only_its_fingerprint_kept(
        cluster: Cluster, tmp_path: Path) -> None:
    cluster.ufs_file("s3/bucket/train/0.jpg", 10)
    value = "tok-9f2 \"quoted\" 'too'\n"
    pod_root = tmp_path / "pod"
    secret_file = pod_root / cache.SECRETS_DIR.lstrip("/") / "keys" / "secret"
    secret_file.parent.mkdir(parents=True)
    secret_file.write_text(value)
    option = f"aws.secretKey={cache.SECRETS_DIR}/keys/secret"

    mounted = cluster.alluxio("fs", "mount", "--option", option, "/train", "s3://bucket/train",
                              STANDIN_POD_ROOT=str(pod_root))

    assert mounted.returncode == 0, mounted.stderr
    (mount,) = cache.mounts(cluster.state_dir)
    assert mount["options"]["aws.secretKey"] == f"{cache.SECRETS_DIR}/keys/secret"
    assert mount["secrets"] == {"aws.secretKey": cache.fingerprint(value)}
    stored = "".join(p.read_text() for p in cluster.state_dir.rglob("*") if p.is_file())
    assert "tok-9f2" not in stored and "tok-9f2" not in mounted.stdout + mounted.stderr


def test_a_missing_secret_file_fails_the_mount_naming_the_file(cluster: Cluster, tmp_path: Path) -> None:
    cluster.ufs_file("s3/bucket/train/0.jpg", 10)
    (tmp_path / "pod").mkdir()

    mounted = cluster.alluxio("fs", "mount", "--option", f"aws.secretKey={cache.SECRETS_DIR}/keys/secret",
                              "/train", "s3://bucket/train", STANDIN_POD_ROOT=str(tmp_path / "pod"))

    assert mounted.returncode != 0
    assert f"{cache.SECRETS_DIR}/keys/secret: No such file or directory" in mounted.stderr + mounted.stdout
    assert cache.mounts(cluster.state_dir) == []


def test_an_invocation_imports_nothing_of_the_operator(cluster: Cluster) -> None:
    timed = subprocess.run([STANDIN[0], "-X", "importtime", *STANDIN[1:], "alluxio", "version"],
                           env=cluster.env, capture_output=True, text=True, timeout=30, check=False)
    assert timed.returncode == 0, timed.stderr
    modules = {line.rsplit("|", 1)[-1].strip() for line in timed.stderr.splitlines() if "|" in line}
    assert "standin.alluxio" in modules
    assert not {m for m in modules if m.split(".")[0] in ("lifecycle", "engines", "kubernetes")}


def test_an_unknown_tool_is_refused_with_the_usage(cluster: Cluster) -> None:
    result = subprocess.run([*STANDIN, "hdfs"], env=cluster.env, capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert "alluxio,jindocache,jindo" in result.stderr


def test_an_exec_imports_no_more_than_the_command_needs(cluster: Cluster) -> None:
    """Every exec into a simulated pod starts this program, on the machine the control plane shares.
    ``dataclasses`` (with ``inspect``), ``tempfile``, ``runpy`` and ``hashlib`` were over a third
    of its start-up; a report needs none of them."""
    reply = subprocess.run([STANDIN[0], "-X", "importtime", *STANDIN[1:], "alluxio", "fsadmin", "report"],
                           env=cluster.env, cwd=cluster.state_dir, capture_output=True, text=True, timeout=30,
                           check=False)
    assert reply.returncode == 0, reply.stderr
    assert "Alluxio cluster summary:" in reply.stdout
    lines = [line for line in reply.stderr.splitlines() if line.startswith("import time:")]
    imported = {line.rsplit("|", 1)[-1].strip() for line in lines}
    assert "standin.alluxio" in imported
    assert not imported & {"dataclasses", "inspect", "tempfile", "runpy", "hashlib", "random", "shutil"}
