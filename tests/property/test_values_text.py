"""The values text through libyaml is the text PyYAML's pure dumper wrote, and reads back as itself.

The values ConfigMap's hash is taken over that text: were the two dumpers to differ, every
runtime's values would be applied again once the operator changed from one to the other.
"""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from engines.cache import valuestext

# What values hold: names, numbers, flags, user strings (properties, mount options, paths) in
# nested maps and lists, and maps shared between two places (dumped as an anchor and an alias).
# Printable ASCII: the spec checks refuse control characters in every user string
# (``configfile``), and for long strings of other scripts the two dumpers fold lines differently,
# which costs such a runtime one more apply of its values, once.
ASCII = st.characters(min_codepoint=0x20, max_codepoint=0x7e)
text = st.text(ASCII, max_size=120)
keys = st.text(ASCII, min_size=1, max_size=40)
scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**40, 2**40), text,
                    st.sampled_from(["20003", "1Gi", "a: b", "#x", "- y", "on", "~", ""]))
trees = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                    st.dictionaries(keys, inner, max_size=5)),
                     max_leaves=30)


@settings(max_examples=50, deadline=None)
@given(st.dictionaries(keys, trees, max_size=8), st.booleans())
def test_the_libyaml_text_is_the_pure_dumpers_and_reads_back(values: dict[str, Any], share: bool) -> None:
    if share and values:
        shared = {"rpc": 20000, "web": 20001}
        values = {**values, "master": {"ports": shared}, "ports": shared}
    text = valuestext.dump(values)
    assert text == yaml.safe_dump(values, sort_keys=True)
    assert valuestext.load(text) == values


def test_the_values_text_is_read_by_libyaml_where_pyyaml_has_it() -> None:
    if not yaml.__with_libyaml__:
        return  # the pure loader and dumper serve; the equality above still holds
    assert valuestext._LOADER is yaml.CSafeLoader and valuestext._DUMPER is yaml.CSafeDumper
