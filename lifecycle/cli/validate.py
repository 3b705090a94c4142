"""Manifest checks without a cluster: the same parsing and validation the operator applies."""

from __future__ import annotations

from pathlib import Path

import yaml

from lifecycle.api import ParseError, from_json
from lifecycle.api.dataset import Dataset
from lifecycle.api.meta import API_VERSION
from lifecycle.api.validation import InvalidSpec, dataset_errors, runtime_errors
from lifecycle.engine.registry import Registry


def validate_files(paths: list[Path], registry: Registry | None = None) -> list[str]:
    """Every problem of every data.fluid.io object in ``paths``, one line each naming file and object."""
    registry = registry or Registry().discover()
    kinds = {k.kind: k for k in registry.kinds()}
    problems: list[str] = []
    for path in paths:
        try:
            documents = [d for d in yaml.safe_load_all(path.read_text()) if d]
        except (OSError, yaml.YAMLError) as exc:
            problems.append(f"{path}: cannot read YAML: {exc}")
            continue
        for doc in documents:
            if not isinstance(doc, dict) or doc.get("apiVersion") != API_VERSION:
                continue
            kind = doc.get("kind")
            meta = doc.get("metadata") or {}
            ref = f"{kind} {meta.get('namespace', 'default')}/{meta.get('name')}"
            try:
                if kind == "Dataset":
                    errors = dataset_errors(from_json(Dataset, doc, ref))
                elif kind in kinds:
                    errors = runtime_errors(from_json(kinds[kind].model, doc, ref))
                else:
                    problems.append(f"{path}: {ref}: no engine is registered for kind {kind!r} "
                                    f"(known: Dataset, {', '.join(sorted(kinds))})")
                    continue
            except ParseError as exc:
                problems.append(f"{path}: {exc}")
                continue
            if errors:
                problems.append(f"{path}: {InvalidSpec(ref, errors)}")
    return problems
