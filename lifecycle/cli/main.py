"""``fluidlc``: the project's one command line.

Each sub-command lives with the code it drives and registers itself here through an
``add_*_command(subparsers)`` function that sets ``func``; this module only assembles them.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from lifecycle.cli.check import add_check_command
from lifecycle.cli.conformance import add_conformance_command
from lifecycle.cli.live import current_state
from lifecycle.cli.operator import add_operator_commands
from lifecycle.cli.validate import validate_files
from lifecycle.deploy import SAMPLES
from lifecycle.generate import diagrams
from lifecycle.generate.chart import add_chart_command
from lifecycle.generate.crds import add_crds_command
from lifecycle.generate.manifests import add_manifests_command
from lifecycle.k8s.kubeconfig import KubeconfigError
from lifecycle.local.cli import add_cluster_commands


def _diagrams(args: argparse.Namespace) -> int:
    if not args.out and diagrams.DIAGRAMS_DIR is None:
        raise SystemExit("the diagrams are documentation of a checkout (its diagrams/ folder), and this fluidlc is "
                         "installed; pass --out DIR to draw them there")
    out = Path(args.out or str(diagrams.DIAGRAMS_DIR))
    if args.check:
        problems = diagrams.stale(out)
        if problems:
            print(f"diagrams in {out} are stale: {', '.join(problems)}; run `fluidlc diagrams` (or `make diagrams`)"
                  " and commit the result")
            return 1
        print(f"diagrams in {out} are up to date")
        return 0
    for path in diagrams.write(out):
        print(path)
    return 0


def add_diagrams_command(subparsers: Any) -> None:
    parser = subparsers.add_parser("diagrams", help="draw the lifecycle machines into diagrams/ (Mermaid, DOT, SVG)")
    parser.add_argument("--out", help="output directory (default: diagrams/ of this checkout)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if diagrams/ is stale")
    parser.set_defaults(func=_diagrams)


def _diagram(args: argparse.Namespace) -> int:
    table, state = current_state(args.kind, args.object, args.kubeconfig)
    text = diagrams.drawn(table, args.format, state)
    if args.output:
        Path(args.output).write_text(text)
        print(f"{table.name} machine with {args.object} in state {state} written to {args.output}")
    else:
        sys.stdout.write(text)
    return 0


def add_diagram_command(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "diagram", help="draw one machine with the current state of a live object highlighted",
        description="Reads a Dataset or runtime from the cluster and draws its lifecycle machine with the state "
                    "it is in now highlighted.")
    parser.add_argument("kind", help="dataset, or a runtime kind or short name (alluxioruntime, alluxio, jindo, ...)")
    parser.add_argument("object", metavar="NAMESPACE/NAME")
    parser.add_argument("--format", choices=("mermaid", "dot", "svg"), default="mermaid")
    parser.add_argument("-o", "--output", help="write to this file instead of standard output")
    parser.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster)")
    parser.set_defaults(func=_diagram)


GENERATED = ("crds", "manifests", "chart", "diagrams")


def _generate(args: argparse.Namespace) -> int:
    """Every generator in turn, through its own command; the diagrams only where there is a checkout."""
    codes = []
    for command in GENERATED:
        if command == "diagrams" and diagrams.DIAGRAMS_DIR is None:
            print("diagrams: skipped, they are documentation of a checkout")
            continue
        sub = parser().parse_args([command, *(["--check"] if args.check else [])])
        codes.append(sub.func(sub))
    return max(codes, default=0)


def add_generate_command(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "generate", help=f"write (or --check) every generated file: {', '.join(GENERATED)}",
        description="Runs `fluidlc crds`, `manifests`, `chart` and `diagrams`, so one command writes or checks "
                    "everything generated from the models, the engines and the tables.")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if anything is stale")
    parser.set_defaults(func=_generate)


def _validate(args: argparse.Namespace) -> int:
    report = validate_files([Path(p) for p in args.files])
    for line in (*report.problems, *report.notes):
        print(line)
    if not report.problems:
        print(f"{len(args.files)} file(s) valid ({report.checked} Dataset/runtime pair(s) checked)")
    return 1 if report.problems else 0


def add_validate_command(subparsers: Any) -> None:
    parser = subparsers.add_parser("validate", help="check Dataset and runtime manifests without a cluster")
    parser.add_argument("files", nargs="+", metavar="FILE", help="YAML files (several documents each are fine)")
    parser.set_defaults(func=_validate)


def _samples(args: argparse.Namespace) -> int:
    shipped = {path.stem: path for path in sorted(SAMPLES.glob("*.yaml"))}
    if args.name is None:
        for name, path in shipped.items():
            print(f"{name:<18} {path}")
        return 0
    if args.name not in shipped:
        print(f"no sample {args.name!r}; the samples are: {', '.join(shipped)}", file=sys.stderr)
        return 1
    sys.stdout.write(shipped[args.name].read_text())
    return 0


def add_samples_command(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "samples", help="list the sample manifests shipped with fluidlc, or print one",
        description="Without NAME: each sample and its file. With NAME: the sample's YAML, e.g. "
                    "`fluidlc samples alluxio > pair.yaml`.")
    parser.add_argument("name", nargs="?", metavar="NAME", help="a sample to print (alluxio, jindo, ...)")
    parser.set_defaults(func=_samples)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="fluidlc",
                                   description="Fluid-compatible datasets on explicit lifecycle machines.")
    root.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = root.add_subparsers(dest="command", required=True)
    for add in (add_operator_commands, add_diagrams_command, add_diagram_command, add_validate_command,
                add_samples_command, add_crds_command, add_manifests_command, add_chart_command,
                add_generate_command, add_cluster_commands, add_check_command, add_conformance_command):
        add(sub)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        code: int = args.func(args)
    except KeyboardInterrupt:
        return 130
    except KubeconfigError as exc:  # names the file, the field and the fix: no traceback needed
        print(f"fluidlc: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
