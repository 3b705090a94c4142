"""Configuration files written from user strings, so that no string can add a line to them.

A cache system reads its configuration from files the engine renders from the spec: Alluxio a Java
properties file, Jindo an INI-like file. Keys and values come from users (properties, mount
options), so each is written escaped (properties) or refused when it cannot be (a line break or a
control character has no place in either file; the spec checks refuse them first, with the field
named, and these writers refuse them again rather than write them).
"""

from __future__ import annotations

import re

CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class UnsafeConfig(ValueError):
    """A key or value that cannot be written into a configuration file as one entry."""


def refuse_control(text: str, what: str) -> str:
    if CONTROL.search(text):
        raise UnsafeConfig(f"{what} {text!r} has a control character (a line break, say); remove it")
    return text


def _escape(text: str, key: bool) -> str:
    out = []
    for i, char in enumerate(text):
        code = ord(char)
        if char == "\\":
            out.append("\\\\")
        elif char == "\t":
            out.append("\\t")
        elif char == "\n":
            out.append("\\n")
        elif char == "\r":
            out.append("\\r")
        elif char == "\f":
            out.append("\\f")
        elif char in "=: #!" and (key or (char == " " and i == 0) or (char in "#!" and i == 0)):
            out.append("\\" + char)
        elif code < 0x20 or code > 0x7E:
            out.append(f"\\u{code:04x}")  # Properties.load reads ISO-8859-1: anything else is \\u-escaped
        else:
            out.append(char)
    return "".join(out)


def properties(props: dict[str, str]) -> str:
    """A Java properties file, every key and value escaped as ``Properties.store`` would."""
    return "".join(f"{_escape(k, key=True)}={_escape(v, key=False)}\n" for k, v in sorted(props.items()))


def ini(sections: dict[str, dict[str, str]]) -> str:
    """``[section]`` blocks of ``key = value`` lines; a key with ``=`` or ``[``, or any string with a
    control character, cannot be written as one entry and is refused."""
    out = []
    for section, props in sections.items():
        out.append(f"[{refuse_control(section, 'section')}]")
        for k, v in sorted(props.items()):
            if "=" in k or k.startswith("["):
                raise UnsafeConfig(f"key {k!r} cannot be written into an INI file; remove '=' and a leading '['")
            out.append(f"{refuse_control(k, 'key').strip()} = {refuse_control(v, 'value of ' + k)}")
        out.append("")
    return "\n".join(out)


def java_option(token: str, what: str) -> str:
    """One token of a JVM options variable that the cache's start script splits on whitespace: a
    token with whitespace would become several JVM arguments."""
    if re.search(r"\s", token):
        raise UnsafeConfig(f"{what} {token!r} has whitespace, which would split it into several JVM arguments")
    return token
