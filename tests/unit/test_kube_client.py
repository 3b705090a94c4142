"""How the gateway writes what it sends."""

from __future__ import annotations

import json

from lifecycle.k8s.kube import _yaml_safe_json


def test_an_apply_body_is_json_with_nothing_past_ascii_unescaped() -> None:
    """The API server reads an apply as YAML, which takes a raw U+2028 for a line break."""
    plain = {"metadata": {"name": "a", "labels": {"k": "v\\n\"q\""}}, "spec": {"replicas": 3, "ratio": 0.5}}
    assert json.loads(_yaml_safe_json(plain)) == plain
    other = {"data": {"k": "déjà 数据 \u2028"}}
    body = _yaml_safe_json(other)
    assert body.isascii() and b"\\u2028" in body
    assert json.loads(body) == other
    huge = {"spec": {"size": 2**70}}  # past orjson's 64 bits
    assert json.loads(_yaml_safe_json(huge)) == huge
