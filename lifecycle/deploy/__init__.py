"""The files fluid-lifecycle ships beside its code, found through ``importlib.resources``.

This folder is package data: the wheel carries it, and the repository's ``deploy/`` links into it,
so there is one copy of each file. Generated files are written here by ``fluidlc crds``,
``fluidlc manifests`` and ``fluidlc chart`` and checked against a fresh render with ``--check``:

    crds/            the CustomResourceDefinitions, rendered from the API models
    operator.yaml    the operator's RBAC, Deployment and metrics Service
    chart/           the Helm chart of the same objects
    samples/         example manifests (hand-written); ``fluidlc run`` applies samples/alluxio.yaml
    controlplane/    Go module pins and build.sh of the local control plane (built on first use)
    tools/           Go module pin and build-helm.sh of helm

Nothing in this module depends on the repository's layout, except ``checkout()``, which the commands
that write generated files use to decide whether there is a checkout to write into.
"""

from __future__ import annotations

import tomllib
from importlib import metadata, resources
from pathlib import Path

DISTRIBUTION = "fluid-lifecycle"

# The package is installed as plain files (a wheel or an editable checkout), so this is a real path.
ROOT = Path(str(resources.files(__name__)))
CRDS = ROOT / "crds"
SAMPLES = ROOT / "samples"
SAMPLE = SAMPLES / "alluxio.yaml"
OPERATOR_YAML = ROOT / "operator.yaml"
CHART = ROOT / "chart"
CONTROLPLANE_BUILD = ROOT / "controlplane" / "build.sh"
HELM_BUILD = ROOT / "tools" / "build-helm.sh"


def checkout() -> Path | None:
    """The root of the fluid-lifecycle checkout this package runs from, or None when it is installed.

    A checkout is the folder above the ``lifecycle`` package holding this project's pyproject.toml
    (an editable install, or running from the source tree)."""
    root = ROOT.parents[1]
    try:
        project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8")).get("project", {})
    except (OSError, tomllib.TOMLDecodeError):
        return None
    return root if project.get("name") == DISTRIBUTION else None


def version() -> str:
    """The package version: ``[project] version`` of pyproject.toml, as the installed metadata records it."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        # Run from a source tree that was never installed: the same field, read from the file.
        root = checkout()
        if root is None:
            return "0.0.0"
        return str(tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"])


def output(default: Path, given: str | None, command: str) -> Path:
    """Where a generating command writes: ``--out`` when given, else ``default`` inside a checkout.

    An installed package is not written into: its files are what was shipped, and ``--check``
    compares against them."""
    if given:
        return Path(given)
    if checkout() is None:
        raise SystemExit(f"`fluidlc {command}` writes into a checkout of fluid-lifecycle, and this one is installed "
                         f"({ROOT}); pass --out DIR to write elsewhere, or --check to compare with what it ships")
    return default
