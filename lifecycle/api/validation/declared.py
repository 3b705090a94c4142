"""The constraints declared beside each field (enum, minimum, lengths, item counts), checked in Python.

The CRD schema is generated from the same declarations (``lifecycle.generate.crds``), so the API
server, ``fluidlc validate`` and the operator refuse the same values, and an object stored before a
CRD was tightened is still refused by the operator rather than half-served.
"""

from __future__ import annotations

import re
from typing import Any

import attrs

from lifecycle.api._model import api_fields, json_name
from lifecycle.api.validation.common import FieldError


def declared_errors(model: Any, at: str) -> list[FieldError]:
    """Every declared constraint of ``model`` (an API model) and the models below it that a value breaks."""
    errors = []
    for attribute in api_fields(type(model)):
        value = getattr(model, attribute.name)
        if value is None:
            continue
        here = f"{at}.{json_name(attribute)}"
        errors += _value_errors(here, value, attribute.metadata)
        if attrs.has(type(value)):
            errors += declared_errors(value, here)
        elif isinstance(value, list):
            errors += [e for i, item in enumerate(value) if attrs.has(type(item))
                       for e in declared_errors(item, f"{here}[{i}]")]
    return errors


def _value_errors(at: str, value: Any, meta: Any) -> list[FieldError]:
    errors = []
    fix = meta.get("fix")
    enum = meta.get("enum")
    if enum is not None:
        for where, item in ([(f"{at}[{i}]", v) for i, v in enumerate(value)] if isinstance(value, list)
                            else [(at, value)]):
            if item not in enum:
                errors.append(FieldError(where, f"{item!r} is not allowed", fix or "use one of " + ", ".join(
                    repr(e) for e in enum)))
    minimum = meta.get("minimum")
    if minimum is not None and isinstance(value, int) and value < minimum:
        errors.append(FieldError(at, f"{value} is below the minimum {minimum}", fix or f"use {minimum} or more"))
    if isinstance(value, str):
        errors += _length_errors(at, value, meta, fix)
    if isinstance(value, list | dict):
        errors += _count_errors(at, len(value), meta, fix)
    return errors


def _length_errors(at: str, value: str, meta: Any, fix: str | None) -> list[FieldError]:
    low, high, pattern = meta.get("min_length"), meta.get("max_length"), meta.get("pattern")
    if low is not None and len(value) < low:
        return [FieldError(at, f"{value!r} is shorter than {low} characters", fix or f"give at least {low}")]
    if high is not None and len(value) > high:
        return [FieldError(at, f"{len(value)} characters are more than {high}", fix or f"give at most {high}")]
    if pattern is not None and not re.search(pattern, value):
        return [FieldError(at, f"{value!r} does not match {pattern}", fix or "give a value of that form")]
    return []


def _count_errors(at: str, count: int, meta: Any, fix: str | None) -> list[FieldError]:
    low, high = meta.get("min_items"), meta.get("max_items")
    if low is not None and count < low:
        return [FieldError(at, f"{count} items are fewer than {low}", fix or f"give at least {low}")]
    if high is not None and count > high:
        return [FieldError(at, f"{count} items are more than {high}", fix or f"give at most {high}")]
    return []
