"""`fluidlc cluster up|down|status|ufs add`: the local control plane from the command line.

`add_cluster_commands` adds the `cluster` command to the fluidlc parser; every subcommand sets
`func`, which takes the parsed arguments and returns the exit code. `python -m
lifecycle.local.cli up|down|status` offers the same subcommands on their own.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from rich.console import Console

from lifecycle.local import ufs
from lifecycle.local.cluster import DEFAULT_NAME, LocalCluster
from lifecycle.local.places import CLUSTER_DIR_ENV, clusters_root
from lifecycle.local.processes import ComponentError

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def _name_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--name",
        default=DEFAULT_NAME,
        help=f"cluster name; its folder is {clusters_root()}/<name> unless ${CLUSTER_DIR_ENV} is set "
        f"(default: {DEFAULT_NAME})",
    )


def _with_name(command: str, name: str) -> str:
    return command + ("" if name == DEFAULT_NAME else f" --name {name}")


def _down_hint(name: str) -> str:
    return _with_name("fluidlc cluster down", name)


def _say_ufs(cluster: LocalCluster) -> None:
    root = cluster.layout.ufs
    out.print(f"simulated UFS: {root}  (a mountPoint s3://bucket/path is the folder {root}/s3/bucket/path)")
    fill = _with_name("fluidlc cluster ufs add s3://bucket/path --size 1Gi --files 3", cluster.name)
    out.print(f"  fill it with: {fill}")


def _up(args: argparse.Namespace) -> int:
    cluster = LocalCluster(args.name)
    out.print(f"starting cluster [bold]{args.name}[/] in {cluster.dir} with {args.nodes} nodes")
    try:
        cluster.up(nodes=args.nodes, fresh=args.fresh, progress=lambda line: out.print(f"  {line}"))
    except ComponentError as exc:
        err.print(f"[red]error:[/] {exc}")
        return 1
    except KeyboardInterrupt:
        err.print("interrupted; the components started so far were stopped again")
        return 130
    out.print(f"API server: {cluster.server}")
    out.print(f"kubeconfig: {cluster.kubeconfig}")
    out.print(f"  export KUBECONFIG={cluster.kubeconfig}")
    _say_ufs(cluster)
    out.print(f"stop it with: {_down_hint(args.name)}")
    return 0


def _ufs_add(args: argparse.Namespace) -> int:
    cluster = LocalCluster(args.name)
    try:
        filled = ufs.add(cluster.layout.ufs, args.uri, ufs.parse_size(args.size), args.files)
    except ufs.UfsError as exc:
        err.print(f"[red]error:[/] {exc}")
        return 1
    out.print(f"added {filled}")
    out.print(f"  a Dataset of cluster {cluster.name!r} mounts it as: mountPoint: {args.uri}")
    if cluster.ports is None:
        out.print(f"  (cluster {cluster.name!r} is not set up yet; start it with "
                  f"{_with_name('fluidlc cluster up', cluster.name)})")
    return 0


def _down(args: argparse.Namespace) -> int:
    cluster = LocalCluster(args.name)
    stopped = cluster.down()
    if stopped:
        out.print(f"stopped {', '.join(stopped)}; data and logs stay in {cluster.dir}")
    else:
        out.print(f"nothing of cluster {args.name!r} was running ({cluster.dir})")
    return 0


def _megabytes(rss: int | None) -> str:
    return f"{rss / 2**20:.0f} MiB" if rss is not None else "-"


def _status(args: argparse.Namespace) -> int:
    cluster = LocalCluster(args.name)
    if cluster.ports is None:
        out.print(f"cluster {args.name!r} has not been set up ({cluster.dir}); start it with `fluidlc cluster up`")
        return 1
    statuses = cluster.status()
    up = all(s.running for s in statuses)
    out.print(f"cluster [bold]{args.name}[/] in {cluster.dir}: {'up' if up else 'not fully running'}")
    out.print(f"API server {cluster.server}, kubeconfig {cluster.kubeconfig}")
    rows = [("component", "state", "pid", "port", "memory", "log")]
    rows += [
        (
            s.name,
            "running" if s.running else "stopped",
            str(s.pid) if s.pid is not None else "-",
            str(s.port) if s.port is not None else "-",
            _megabytes(s.rss_bytes),
            str(s.log),
        )
        for s in statuses
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        # Plain columns rather than a rich table: log paths stay whole and greppable at any width.
        out.print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[-1])
    return 0 if up else 1


def _add_actions(actions: Any) -> None:
    up = actions.add_parser("up", help="start the control plane and wait until it is ready")
    up.add_argument("--nodes", type=int, default=3, help="number of simulated nodes (default: 3)")
    up.add_argument(
        "--fresh", action="store_true", help="discard the objects, exec state and logs of a previous run (not the UFS)"
    )
    _name_option(up)
    up.set_defaults(func=_up)

    down = actions.add_parser("down", help="stop every component by its recorded PID")
    _name_option(down)
    down.set_defaults(func=_down)

    status = actions.add_parser("status", help="each component: running or stopped, pid, port, log; exit 1 unless up")
    _name_option(status)
    status.set_defaults(func=_status)

    simulated = actions.add_parser(
        "ufs", help="the simulated under file systems the cluster's Datasets mount",
        description="The stand-in cache CLIs serve scheme://bucket/path from the folder "
                    "<cluster>/ufs/scheme/bucket/path; these commands fill it.")
    ufs_actions = simulated.add_subparsers(dest="ufs_command", required=True, metavar="{add}")
    add = ufs_actions.add_parser(
        "add", help="make a simulated bucket path with files in it",
        description="Create the folder behind URI with FILES sparse files of SIZE bytes in all (existing part "
                    "files are resized), so that a Dataset mounting URI on the local cluster finds them.")
    add.add_argument("uri", metavar="URI", help="the mountPoint, e.g. s3://imagenet/train")
    add.add_argument("--size", default=ufs.DEFAULT_SIZE,
                     help=f"total size, a Kubernetes quantity (default: {ufs.DEFAULT_SIZE}); files are sparse")
    add.add_argument("--files", type=int, default=ufs.DEFAULT_FILES,
                     help=f"number of files (default: {ufs.DEFAULT_FILES})")
    _name_option(add)
    add.set_defaults(func=_ufs_add)


def add_cluster_commands(subparsers: Any) -> argparse.ArgumentParser:
    """Add `cluster up|down|status|ufs` to an argparse subparsers object; returns the `cluster` parser."""
    cluster: argparse.ArgumentParser = subparsers.add_parser(
        "cluster", help="a local Kubernetes control plane on 127.0.0.1 (etcd, API server, kwok nodes)"
    )
    _add_actions(cluster.add_subparsers(dest="cluster_command", required=True, metavar="{up,down,status,ufs}"))
    return cluster


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lifecycle.local.cli", description="A local Kubernetes control plane on 127.0.0.1."
    )
    _add_actions(parser.add_subparsers(dest="cluster_command", required=True, metavar="{up,down,status,ufs}"))
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
