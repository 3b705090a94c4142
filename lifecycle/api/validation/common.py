"""What every check shares: the error types, the name rule, and strings that must stay one line."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import attrs

from lifecycle.api._model import Rule

DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
NAME_FIX = ("use at most 63 lower-case letters, digits and '-', starting with a letter and ending with a letter "
            "or digit")
# The same rule for the API server, on the object's root (a CRD may say this much about metadata.name).
NAME_RULE = Rule("size(self.metadata.name) <= 63 && self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')",
                 f"metadata.name must be a DNS-1035 label: {NAME_FIX}")


@attrs.frozen
class FieldError:
    path: str
    problem: str
    fix: str

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}; {self.fix}"


class InvalidSpec(ValueError):
    """Raised with every problem of one object at once, so a user fixes them in one go."""

    def __init__(self, ref: str, errors: Iterable[FieldError]):
        self.ref = ref
        self.errors = list(errors)
        super().__init__(f"{ref}: " + "; ".join(str(e) for e in self.errors))


def scheme_of(mount_point: str) -> str | None:
    head, sep, _ = mount_point.partition("://")
    return head.lower() if sep else None


def name_errors(name: str | None) -> list[FieldError]:
    if not name or len(name) > 63 or not DNS1035.match(name):
        return [FieldError("metadata.name", f"{name!r} is not a DNS-1035 label", NAME_FIX)]
    return []


def one_line(path: str, text: str | None) -> list[FieldError]:
    """A string that lands in a file or a command must not carry a line break or another control character."""
    if text is not None and CONTROL.search(text):
        return [FieldError(path, f"{text!r} has a control character (a line break, say)",
                           "remove it: this string is written into the cache's configuration")]
    return []


def one_line_map(path: str, values: Mapping[str, str] | None) -> list[FieldError]:
    errors = []
    for key, value in (values or {}).items():
        errors += one_line(f"{path} key", key) + one_line(f"{path}[{key}]", value)
    return errors


def ratio(text: str) -> bool:
    try:
        return 0.0 <= float(text) <= 1.0
    except ValueError:
        return False
