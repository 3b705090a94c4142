"""How an API model maps to JSON, in one place.

Every model is an attrs class whose attributes are snake_case and whose JSON names are the
reference's camelCase (or an explicit ``json=`` name where the reference is irregular, such as
``mediumtype``). Optional fields default to ``None`` and are omitted from JSON, so a manifest
written for the reference system comes back exactly as it went in: keys we do not model are
kept in ``extra`` and written back unchanged. The same field metadata (enum, minimum, minLength,
required, description) feeds the CRD schema generator, so validation rules live beside the field.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from types import UnionType
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

import attrs
import cattrs
from cattrs.cols import list_structure_factory, mapping_structure_factory
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

T = TypeVar("T")

_EXTRA = "extra"


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


@attrs.frozen
class Rule:
    """A CEL validation rule and the message the API server answers with when it is false."""

    rule: str
    message: str


def field(
    *,
    json: str | None = None,
    doc: str = "",
    required: bool = False,
    enum: Sequence[str] | None = None,
    minimum: int | None = None,
    min_length: int | None = None,
    pattern: str | None = None,
    fmt: str | None = None,
    default: Any = None,
    factory: Any = None,
    min_items: int | None = None,
    max_items: int | None = None,
    max_length: int | None = None,
    rules: Sequence[Rule] = (),
    fix: str | None = None,
) -> Any:
    """An API field. Optional fields default to None, meaning "absent in JSON". ``rules`` are CEL
    validations the API server applies to the field's value (``x-kubernetes-validations``); the
    Python checks of ``lifecycle.api.validation`` say the same, for ``fluidlc validate`` and the
    operator. ``fix`` is what an error about a declared constraint tells the user to do."""
    meta = {
        "json": json,
        "doc": doc,
        "required": required,
        "enum": tuple(enum) if enum is not None else None,
        "minimum": minimum,
        "min_length": min_length,
        "pattern": pattern,
        "format": fmt,
        "min_items": min_items,
        "max_items": max_items,
        "max_length": max_length,
        "rules": tuple(rules),
        "fix": fix,
    }
    if factory is not None:
        return attrs.field(factory=factory, metadata=meta)
    if required and default is None:
        return attrs.field(metadata=meta, kw_only=True)
    return attrs.field(default=default, metadata=meta, kw_only=True)


def extra_field() -> Any:
    """Holds the JSON keys a model does not know, so they survive a read-modify-write."""
    return attrs.field(factory=dict, kw_only=True, repr=False, eq=False, metadata={"extra": True})


def json_name(a: attrs.Attribute[Any]) -> str:
    return a.metadata.get("json") or _camel(a.name)


def api_fields(cls: type) -> list[attrs.Attribute[Any]]:
    """The attributes of a model that appear in JSON (everything but ``extra``)."""
    return [a for a in attrs.fields(cls) if not a.metadata.get("extra")]


def _is_model(cls: Any) -> bool:
    return isinstance(cls, type) and attrs.has(cls) and any(a.name == _EXTRA for a in attrs.fields(cls))


converter = cattrs.Converter()


def _structure_factory(cls: type) -> Any:
    known = {json_name(a) for a in api_fields(cls)}
    overrides = {a.name: override(rename=json_name(a)) for a in api_fields(cls)}
    overrides[_EXTRA] = override(omit=True)
    inner: Any = make_dict_structure_fn(cls, converter, **overrides)  # type: ignore[arg-type]

    def structure(data: Any, _: Any) -> Any:
        if not isinstance(data, dict):
            raise TypeError(f"expected an object, got {type(data).__name__}")
        obj = inner(data, cls)
        object.__setattr__(obj, _EXTRA, {k: v for k, v in data.items() if k not in known})
        return obj

    return structure


def _unstructure_factory(cls: type) -> Any:
    # Required fields are always written (the CRD insists on them); optional ones only when set.
    overrides = {
        a.name: override(rename=json_name(a), omit_if_default=not a.metadata.get("required"))
        for a in api_fields(cls)
    }
    overrides[_EXTRA] = override(omit=True)
    inner: Any = make_dict_unstructure_fn(cls, converter, **overrides)  # type: ignore[arg-type]

    def unstructure(obj: Any) -> dict[str, Any]:
        out: dict[str, Any] = inner(obj)
        for key, value in getattr(obj, _EXTRA).items():
            out.setdefault(key, value)
        return out

    return unstructure


def _strict(kind: type, accepts: tuple[type, ...], name: str, fix: str) -> None:
    """JSON types are checked, not coerced: ``readOnly: "no"`` is an error, not ``True``."""

    def structure(value: Any, _: Any) -> Any:
        if isinstance(value, accepts) and not (kind is not bool and isinstance(value, bool)):
            return kind(value)
        raise TypeError(f"expected {name}, got {type(value).__name__} {value!r}; {fix}")

    converter.register_structure_hook(kind, structure)


def _is_list(type_: Any) -> bool:
    return get_origin(type_) is list


def _is_dict(type_: Any) -> bool:
    return get_origin(type_) is dict


def _strict_container(kind: type, name: str, fix: str, factory: Any) -> Any:
    """A JSON array or object, item by item (errors keep their index or key); a string is not a
    list of its characters (``jvmOptions: "-Xmx1g"``)."""

    def hook(type_: Any) -> Any:
        inner = factory(type_, converter)

        def structure(value: Any, _: Any) -> Any:
            if not isinstance(value, kind):
                raise TypeError(f"expected {name}, got {type(value).__name__} {value!r}; {fix}")
            return inner(value, type_)

        return structure

    return hook


_strict(str, (str,), "a string", "quote the value")
_strict(int, (int,), "an integer", "write a whole number without quotes")
_strict(float, (int, float), "a number", "write a number without quotes")
_strict(bool, (bool,), "true or false", "write true or false without quotes")
converter.register_structure_hook_factory(_is_model, _structure_factory)
converter.register_structure_hook_factory(
    _is_list, _strict_container(list, "a list", "write one '- item' per entry", list_structure_factory))
converter.register_structure_hook_factory(
    _is_dict, _strict_container(dict, "an object", "write 'key: value' entries", mapping_structure_factory))
converter.register_unstructure_hook_factory(_is_model, _unstructure_factory)

# One step of a cattrs error path: ``.attribute`` or an index such as ``[0]`` or ``['key']``.
_STEP = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|(\[[^\]]*\])")


def _describe(exc: BaseException, type_: Any) -> str:
    if isinstance(exc, KeyError):
        return "required field missing; set it"
    if isinstance(exc, TypeError | ValueError) and str(exc):
        return str(exc)
    return f"invalid value ({exc.__class__.__name__})"


def strip_optional(type_: Any) -> Any:
    """``X | None`` -> ``X``; any other type as it is."""
    if isinstance(type_, UnionType) or get_origin(type_) is Union:
        args = [a for a in get_args(type_) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return type_


def _json_path(cls: Any, path: str) -> str:
    """``$.spec.mounts[0].mount_point`` -> ``spec.mounts[0].mountPoint``, using each field's JSON name."""
    out: list[str] = []
    current: Any = cls
    for step in _STEP.finditer(path.removeprefix("$")):
        attribute, index = step.groups()
        current = strip_optional(current)
        if index is not None:
            out.append(index)
            args = get_args(current)
            current = args[-1] if args else None
            continue
        known = {a.name: a for a in api_fields(current)} if _is_model(current) else {}
        if attribute in known:
            out.append("." + json_name(known[attribute]))
            current = get_type_hints(current).get(attribute)
        else:
            out.append("." + _camel(attribute))
            current = None
    return "".join(out).lstrip(".")


class ParseError(ValueError):
    """A manifest that does not fit the model; the message names the object and every bad field."""

    def __init__(self, what: str, problems: list[str]):
        self.problems = problems
        super().__init__(f"{what}: " + "; ".join(problems))


def from_json(cls: type[T], data: Any, what: str | None = None) -> T:
    """Parse JSON-shaped data into a model, or raise ParseError naming the fields."""
    try:
        return converter.structure(data, cls)
    except Exception as exc:  # cattrs reports type problems as exception groups
        problems = []
        for line in cattrs.transform_error(exc, path="$", format_exception=_describe):
            message, _, path = line.rpartition(" @ ")
            problems.append(f"{_json_path(cls, path)}: {message}" if message else line)
        raise ParseError(what or cls.__name__, problems) from None


def to_json(obj: Any) -> Any:
    return converter.unstructure(obj)
