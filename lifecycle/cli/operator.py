"""``fluidlc operator`` (the process) and ``fluidlc run`` (it, on a local cluster, with a sample)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path
from typing import Any

from lifecycle.cli.run import run_demo
from lifecycle.deploy import SAMPLE
from lifecycle.engine.settings import parse_port_range
from lifecycle.k8s.faults import FAULTS_ENV, FaultPlan
from lifecycle.operator import logs
from lifecycle.operator.manager import Operator, Settings


def _env(name: str, default: Any) -> Any:
    return os.environ.get(f"FLUIDLC_{name}", default)


def _settings(args: argparse.Namespace) -> Settings:
    return Settings(
        kubeconfig=args.kubeconfig, namespaces=tuple(args.namespace or ()), workers=args.workers,
        resync_seconds=args.resync, metrics_address=args.metrics_address, leader_elect=args.leader_elect,
        lease_namespace=args.lease_namespace, lease_name=args.lease_name, lease_seconds=args.lease_seconds,
        renew_deadline=min(args.lease_seconds * 2 / 3, args.lease_seconds - 1),
        retry_period=max(0.5, args.lease_seconds / 7.5), stall_seconds=args.stall_seconds,
        rollout_deadline=args.rollout_deadline, cache_report_seconds=args.cache_report_interval,
        mount_check_seconds=args.mount_check_interval, background_workers=args.background_workers,
        report_workers=args.report_workers,
        port_range=args.port_range, watch_secrets=args.watch_secrets, memory_trim_seconds=args.memory_trim_interval,
        faults=FaultPlan.parse(os.environ[FAULTS_ENV]) if os.environ.get(FAULTS_ENV) else None,
        **({"identity": args.identity} if args.identity else {}))


def _port_range(text: str) -> tuple[int, int]:
    try:
        return parse_port_range(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_operator_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kubeconfig", default=os.environ.get("KUBECONFIG"),
                        help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster)")
    parser.add_argument("--namespace", action="append",
                        default=[n for n in _env("NAMESPACES", "").split(",") if n] or None,
                        help="watch only this namespace (repeatable; default all; env FLUIDLC_NAMESPACES=a,b)")
    parser.add_argument("--workers", type=int, default=int(_env("WORKERS", 16)),
                        help="concurrent reconciles (default 16: a pass mostly waits on the API server and on execs)")
    parser.add_argument("--resync", type=float, default=float(_env("RESYNC", 60)),
                        help="seconds before a Ready pair is looked at again (default 60)")
    parser.add_argument("--metrics-address", default=_env("METRICS_ADDRESS", "127.0.0.1:8080"),
                        help="host:port of /metrics, /healthz and /readyz (port 0: any free port)")
    parser.add_argument("--leader-elect", action=argparse.BooleanOptionalAction,
                        default=_env("LEADER_ELECT", "true") == "true", help="hold a Lease before reconciling")
    parser.add_argument("--lease-namespace", default=_env("LEASE_NAMESPACE", "default"))
    parser.add_argument("--lease-name", default=_env("LEASE_NAME", "fluid-lifecycle-operator"))
    parser.add_argument("--lease-seconds", type=float, default=float(_env("LEASE_SECONDS", 15)))
    parser.add_argument("--identity", default=_env("IDENTITY", ""), help="lease holder name (default host-pid)")
    parser.add_argument("--stall-seconds", type=float, default=float(_env("STALL_SECONDS", 120)),
                        help="restart a watch that sent nothing, not even a bookmark, for this long")
    parser.add_argument("--rollout-deadline", type=float, default=float(_env("ROLLOUT_DEADLINE", 600)),
                        help="seconds a rollout of a changed runtime spec may keep a component unready before "
                             "the Dataset counts as Failed (default 600)")
    parser.add_argument("--memory-trim-interval", type=float, default=float(_env("MEMORY_TRIM_INTERVAL", 30)),
                        help="seconds between handing freed C-heap memory back to the system (default 30; 0: never)")
    parser.add_argument("--cache-report-interval", type=float, default=float(_env("CACHE_REPORT_INTERVAL", 120)),
                        help="seconds between two reports of a cache's figures (capacity, use, hit ratios), "
                             "each a command run in its master (default 120)")
    parser.add_argument("--mount-check-interval", type=float, default=float(_env("MOUNT_CHECK_INTERVAL", 300)),
                        help="seconds between two checks that a cache still serves the Dataset's mounts (a mount "
                             "removed by hand is made again), each a command run in its master (default 300; a "
                             "changed Dataset or a restarted master is acted on at once)")
    parser.add_argument("--background-workers", type=int, default=int(_env("BACKGROUND_WORKERS", 8)),
                        help="metadata syncs run at once, each a command in a master (default 8)")
    parser.add_argument("--report-workers", type=int, default=int(_env("REPORT_WORKERS", 8)),
                        help="cache reports run at once beside the reconciles, each a command in a master; "
                             "they do not wait behind metadata syncs (default 8)")
    parser.add_argument("--port-range", type=_port_range, default=_port_range(_env("PORT_RANGE", "20000-26000")),
                        help="host ports given to runtimes on the host network, FIRST-LAST (default 20000-26000)")
    parser.add_argument("--watch-secrets", action=argparse.BooleanOptionalAction,
                        default=_env("WATCH_SECRETS", "true") == "true",
                        help="watch Secrets so a created or rotated one wakes the Datasets that read it at once "
                             "(needs list/watch on secrets; off: seen at the next resync)")
    parser.add_argument("--log-format", choices=("json", "text"), default=_env("LOG_FORMAT", "json"))
    parser.add_argument("--log-level", choices=("debug", "info", "warning"), default=_env("LOG_LEVEL", "info"),
                        help="debug adds a line per watched change and per pass, with its time in the queue "
                             "(default info; -v before the command means debug)")


def run_operator(settings: Settings, stop_on: tuple[int, ...] = (signal.SIGTERM, signal.SIGINT)) -> int:
    operator = Operator(settings)

    def on_signal(signum: int, _frame: Any) -> None:
        operator.stop.set()

    for sig in stop_on:
        signal.signal(sig, on_signal)
    operator.start()
    code = operator.wait()
    if code == 0:
        operator.shutdown()
    return code


def _level(args: argparse.Namespace) -> str:
    return "debug" if getattr(args, "verbose", False) else str(getattr(args, "log_level", "info"))


def _operator(args: argparse.Namespace) -> int:
    logs.configure(args.log_format, _level(args))
    return run_operator(_settings(args))


def _run(args: argparse.Namespace) -> int:
    logs.configure("text", _level(args))
    return run_demo(_settings(args), Path(args.sample), exit_when_bound=args.exit_when_bound, nodes=args.nodes)


def add_operator_commands(subparsers: Any) -> None:
    op = subparsers.add_parser("operator", help="run the operator against a cluster",
                               description="Watch Datasets and runtimes and drive their lifecycle machines.")
    add_operator_flags(op)
    op.set_defaults(func=_operator)

    run = subparsers.add_parser(
        "run", help="the operator on a local control plane (or $KUBECONFIG's cluster) with a sample pair",
        description="Starts a local control plane unless KUBECONFIG names a cluster, installs the CRDs, applies "
                    "a sample Dataset and AlluxioRuntime, runs the operator and shows the pair reach Bound.")
    add_operator_flags(run)
    run.add_argument("--sample", default=str(SAMPLE),
                     help=f"manifests to apply (default: the shipped sample, {SAMPLE})")
    run.add_argument("--nodes", type=int, default=3, help="fake nodes of the local cluster")
    run.add_argument("--exit-when-bound", action="store_true", help="stop once every sample Dataset is Bound")
    run.set_defaults(func=_run, log_format="text", metrics_address=_env("METRICS_ADDRESS", "127.0.0.1:0"))


def main() -> int:  # pragma: no cover - fluidlc is the entry point
    parser = argparse.ArgumentParser(prog="fluidlc-operator")
    add_operator_flags(parser)
    return _operator(parser.parse_args())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
