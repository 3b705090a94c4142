"""The API client the operator and the CLI build: from a kubeconfig, with room for every connection
the operator's threads hold at once."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from lifecycle.k8s.kube import _yaml_safe_json, api_client


def kubeconfig(tmp_path: Path) -> str:
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "local",
        "clusters": [{"name": "local",
                      "cluster": {"server": "https://127.0.0.1:6443", "insecure-skip-tls-verify": True}}],
        "users": [{"name": "me", "user": {"token": "not-a-secret"}}],
        "contexts": [{"name": "local", "context": {"cluster": "local", "user": "me"}}],
    }))
    return str(path)


def pool_size(api: object) -> int:
    return int(api.rest_client.pool_manager.connection_pool_kw["maxsize"])  # type: ignore[attr-defined]


def test_the_client_keeps_as_many_connections_as_asked(tmp_path: Path) -> None:
    with api_client(kubeconfig(tmp_path), connections=40) as api:
        assert api.configuration.host == "https://127.0.0.1:6443"
        assert pool_size(api) == 40


def test_without_a_count_the_client_keeps_its_default(tmp_path: Path) -> None:
    with api_client(kubeconfig(tmp_path)) as default, api_client(kubeconfig(tmp_path), connections=1) as fewer:
        assert pool_size(fewer) == pool_size(default) > 1, "never fewer than the client's own default"


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
