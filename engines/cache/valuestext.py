"""The text of a runtime's values ConfigMap: YAML, written and read through libyaml.

PyYAML's pure-Python loader and dumper took 7.9 and 4.6 ms for one runtime's values (the bench's
Alluxio values, 2.7 KiB, on an idle machine); libyaml, which PyYAML's wheels carry, takes 0.9 ms
for each. Every new runtime's values are dumped once and read back once per version, so the pure
versions cost some 11 of the 160 ms of operator CPU a pair took to set up. For values of
printable ASCII the C dumper writes the pure one's text (a property test holds it to that), so the
ConfigMaps' hashes stay as they were; long strings of other scripts may fold differently, which
costs such a runtime one more apply of its values. Where libyaml is missing, the pure ones serve.
"""

from __future__ import annotations

from typing import Any

import yaml

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def dump(values: dict[str, Any]) -> str:
    """``values`` as YAML, keys sorted."""
    text: str = yaml.dump(values, Dumper=_DUMPER, sort_keys=True)
    return text


def load(text: str) -> Any:
    """What a values text says; ``yaml.YAMLError`` if it is not YAML."""
    return yaml.load(text, Loader=_LOADER)  # a safe loader: CSafeLoader, or SafeLoader without libyaml
