"""``fluidlc validate``: manifests checked without a cluster, by the operator's own validator.

Every ``data.fluid.io/v1alpha1`` object of the files is parsed and checked as the operator would
(``lifecycle.engine.admission``): a Dataset with its runtime of the same namespace and name, so the
engine judges the Dataset's mounts too; a data operation (DataLoad, ...) on its own, as the operator's
``validate`` step judges it. A ``data.fluid.io`` object of another version is an error;
objects of other API groups are named as not checked (a Secret beside a Dataset is normal), and a
file with nothing to check is an error.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import yaml

from lifecycle.api import ParseError, from_json
from lifecycle.api.dataset import Dataset
from lifecycle.api.meta import API_VERSION, GROUP
from lifecycle.api.operations import MODEL_OF
from lifecycle.api.runtime import Runtime
from lifecycle.engine.admission import operation_problems, pair_problems
from lifecycle.engine.kind import RuntimeKind
from lifecycle.engine.registry import Registry


@attrs.define
class Pairing:
    """The objects of one namespace/name found in the files."""

    dataset: Dataset | None = None
    runtime: Runtime | None = None
    kind: RuntimeKind | None = None
    where: dict[str, Path] = attrs.field(factory=dict)  # object ref -> the file it came from


@attrs.frozen
class Report:
    problems: list[str]
    notes: list[str]
    checked: int


def _documents(path: Path) -> Iterator[Any]:
    yield from (d for d in yaml.safe_load_all(path.read_text()) if d)


def validate_files(paths: list[Path], registry: Registry | None = None) -> Report:
    """Every problem of every object in ``paths``, one line each naming file, object, field and fix."""
    registry = registry or Registry().discover()
    kinds = {k.kind: k for k in registry.kinds()}
    problems: list[str] = []
    notes: list[str] = []
    pairs: dict[tuple[str, str], Pairing] = {}
    for path in paths:
        try:
            documents = list(_documents(path))
        except (OSError, yaml.YAMLError) as exc:
            problems.append(f"{path}: cannot read YAML: {exc}")
            continue
        ours = [_take(path, doc, kinds, pairs, problems, notes) for doc in documents]
        if not any(ours):
            problems.append(f"{path}: no {API_VERSION} object in the file; nothing to check")
    for pair in pairs.values():
        for line in pair_problems(registry, pair.dataset, pair.runtime, pair.kind):
            ref = line.split(": ", 1)[0]
            problems.append(f"{pair.where.get(ref, '')}: {line}")
    return Report(problems, notes, len(pairs))


def _take(path: Path, doc: Any, kinds: dict[str, RuntimeKind], pairs: dict[tuple[str, str], Pairing],
          problems: list[str], notes: list[str]) -> bool:
    """File one document under its pair; True if it is a data.fluid.io object."""
    if not isinstance(doc, dict):
        problems.append(f"{path}: a document is not a Kubernetes object (a mapping with apiVersion and kind)")
        return False
    api_version, kind = str(doc.get("apiVersion", "")), doc.get("kind")
    meta: dict[str, Any] = doc["metadata"] if isinstance(doc.get("metadata"), dict) else {}
    ref = f"{kind} {meta.get('namespace', 'default')}/{meta.get('name')}"
    if api_version != API_VERSION:
        if api_version.split("/")[0] == GROUP:
            problems.append(f"{path}: {ref}: apiVersion {api_version!r} is not served; use {API_VERSION}")
            return True
        notes.append(f"{path}: {ref} ({api_version or 'no apiVersion'}): not checked, not a {GROUP} object")
        return False
    if kind in MODEL_OF:
        try:
            problems += [f"{path}: {line}" for line in operation_problems(from_json(MODEL_OF[kind], doc, ref))]
        except ParseError as exc:
            problems.append(f"{path}: {exc}")
        return True
    key = (str(meta.get("namespace", "default")), str(meta.get("name")))
    pair = pairs.setdefault(key, Pairing())
    try:
        if kind == "Dataset":
            pair.dataset = from_json(Dataset, doc, ref)
        elif kind in kinds:
            pair.runtime, pair.kind = from_json(kinds[kind].model, doc, ref), kinds[kind]
        else:
            problems.append(f"{path}: {ref}: no engine is registered for kind {kind!r} "
                            f"(known: Dataset, {', '.join(sorted([*kinds, *MODEL_OF]))})")
            return True
    except ParseError as exc:
        problems.append(f"{path}: {exc}")
        return True
    pair.where[ref] = path
    return True
