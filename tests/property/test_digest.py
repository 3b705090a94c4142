"""A digest is the hash of the text the standard ``json`` module writes, whichever encoder wrote it.

The digests are kept on the live objects (``fluid.io/applied-hash``) and compared on every pass:
were orjson's text to differ from ``json``'s, every object would be applied again once the
operator changed from one to the other.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from engines.cache.objects import digest


def json_digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# JSON-shaped data as the renderings make it: any text (control characters, DEL, other scripts),
# integers past 64 bits, and floats as specs hold them (no exponent below 1e-4: see digest).
scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.text(max_size=30),
                    st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: f == 0 or abs(f) >= 1e-4))
trees = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                    st.dictionaries(st.text(max_size=12), inner, max_size=5)),
                     max_leaves=25)


@settings(max_examples=60, deadline=None)
@given(trees)
def test_a_digest_is_the_hash_of_what_json_writes(value: Any) -> None:
    assert digest(value) == json_digest(value)


def test_a_value_orjson_refuses_is_digested_as_json_writes_it() -> None:
    for value in ({1: "a key that is not a string"}, [2**64], {"é": "\x7f"}):
        assert digest(value) == json_digest(value)
