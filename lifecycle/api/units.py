"""Sizes and ratios in the reference's formats, and Kubernetes quantities.

The reference shows sizes in binary units with two decimals (``"0.00B"``, ``"10.00GiB"``) and
ratios with one decimal (``"57.3%"``); cache tools print ``"6.00GB"`` meaning 1024-based units.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL: dict[str, Decimal | int] = {
    "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": 1,
    "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
}
_QUANTITY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$")
_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
# Units as cache tools print them: 1024-based whatever the spelling.
_TOOL_UNITS = {"B": 0, "KB": 1, "MB": 2, "GB": 3, "TB": 4, "PB": 5, "EB": 6,
               "KIB": 1, "MIB": 2, "GIB": 3, "TIB": 4, "PIB": 5, "EIB": 6}
_TOOL_SIZE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*([KMGTPE]?i?B)\s*$", re.IGNORECASE)


def parse_quantity(text: str) -> Decimal:
    """A Kubernetes resource quantity (``"100Pi"``, ``"2Gi"``, ``"500M"``) as a number."""
    match = _QUANTITY.match(text.strip()) if isinstance(text, str) else None
    if not match:
        raise ValueError(f"{text!r} is not a Kubernetes quantity (examples: 2Gi, 500Mi, 100Pi)")
    number, suffix = match.group(1), match.group(2) or ""
    try:
        value = Decimal(number)
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only decimals
        raise ValueError(f"{text!r} is not a Kubernetes quantity") from exc
    return value * (_BINARY[suffix] if suffix in _BINARY else _DECIMAL[suffix])


def is_quantity(text: str) -> bool:
    try:
        parse_quantity(text)
    except ValueError:
        return False
    return True


def format_bytes(size: int | float | Decimal) -> str:
    """``10737418240`` -> ``"10.00GiB"``."""
    value = Decimal(size)
    unit = 0
    while abs(value) >= 1024 and unit < len(_UNITS) - 1:
        value /= 1024
        unit += 1
    return f"{value:.2f}{_UNITS[unit]}"


def parse_tool_size(text: str) -> int:
    """A size as cache tools print it (``"6.00GB"``, ``"1024.00MB"``, ``"0B"``) in bytes."""
    match = _TOOL_SIZE.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a size")
    return int(Decimal(match.group(1)) * 1024 ** _TOOL_UNITS[match.group(2).upper()])


def format_ratio(part: float | Decimal, whole: float | Decimal) -> str:
    """``(573, 1000)`` -> ``"57.3%"``; an empty whole gives ``"0.0%"``."""
    if not whole:
        return "0.0%"
    return f"{Decimal(part) * 100 / Decimal(whole):.1f}%"
