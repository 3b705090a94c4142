"""Reading a kubeconfig (or the pod's service account) as kubectl does, and connecting with it: the
server, the trust, the credentials of each request, and errors that name the field and never a secret."""

from __future__ import annotations

import base64
import json
import os
import ssl
import stat
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from lifecycle.k8s import kubeconfig as kc
from lifecycle.k8s.connection import ApiServer, connect
from lifecycle.k8s.kubeconfig import KubeconfigError, load
from lifecycle.local.pki import Pki, ensure_pki

SECRET = "not-a-real-token-0123456789"


def write(path: Path, *, server: str = "https://127.0.0.1:6443", user: dict[str, Any] | None = None,
          cluster: dict[str, Any] | None = None, name: str = "local", current: str | None = "local") -> str:
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", **({"current-context": current} if current else {}),
        "clusters": [{"name": name, "cluster": {"server": server, **(cluster or {})}}],
        "users": [{"name": name, "user": user if user is not None else {"token": SECRET}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
    }))
    return str(path)


def insecure(tmp_path: Path, **kwargs: Any) -> str:
    return write(tmp_path / "kubeconfig", cluster={"insecure-skip-tls-verify": True}, **kwargs)


def test_a_token_is_sent_as_a_bearer_header(tmp_path: Path) -> None:
    with connect(insecure(tmp_path)) as api:
        assert api.host == "https://127.0.0.1:6443"
        assert api.authorization() == {"Authorization": f"Bearer {SECRET}"}
        assert api.url("/api/v1/pods", [("labelSelector", "a=b,c in (d)")]) \
            == "https://127.0.0.1:6443/api/v1/pods?labelSelector=a%3Db%2Cc%20in%20%28d%29"


def test_the_pool_keeps_as_many_connections_as_asked_and_never_fewer_than_five_per_cpu(tmp_path: Path) -> None:
    floor = 5 * (os.cpu_count() or 1)
    with connect(insecure(tmp_path), connections=floor + 40) as many, connect(insecure(tmp_path), 1) as few:
        assert many.pool.connection_pool_kw["maxsize"] == floor + 40
        assert few.pool.connection_pool_kw["maxsize"] == floor


def test_kubeconfig_files_merge_as_kubectl_merges_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = write(tmp_path / "first", server="https://127.0.0.1:1", name="a", current=None)
    second = write(tmp_path / "second", server="https://127.0.0.1:2", name="a", current="a")
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join([str(tmp_path / "missing"), first, second]))
    target = load()
    assert target.server == "https://127.0.0.1:1", "the first file to name an entry wins"
    assert "context 'a'" in target.where
    assert load(os.pathsep.join([first, second])).server == "https://127.0.0.1:1", "a list as --kubeconfig too"


def test_a_target_shows_neither_its_key_nor_its_token(tmp_path: Path) -> None:
    key = base64.b64encode(b"-----BEGIN PRIVATE KEY----- secret").decode()
    target = load(write(tmp_path / "kubeconfig", user={"token": SECRET, "client-key-data": key,
                                                       "client-certificate-data": key}))
    assert target.token is not None and target.client_key is not None
    assert SECRET not in repr(target) and "PRIVATE" not in repr(target)


def test_relative_paths_are_relative_to_the_kubeconfig(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "ca.pem").write_text("PEM TEXT")
    (tmp_path / "conf" / "token").write_text(SECRET + "\n")
    path = write(tmp_path / "conf" / "kubeconfig", cluster={"certificate-authority": "ca.pem"},
                 user={"tokenFile": "token"})
    target = load(path)
    assert target.ca == "PEM TEXT"
    assert target.token is not None and target.token() == SECRET


@pytest.mark.parametrize(("entry", "field", "fix"), [
    ({"cluster": {"certificate-authority-data": "%%%"}}, "certificate-authority-data", "base64"),
    ({"cluster": {"certificate-authority": "nowhere.pem"}}, "certificate-authority", "fix the path"),
    ({"user": {"client-certificate-data": base64.b64encode(b"x").decode()}}, "client-key", "give both"),
    ({"user": {"auth-provider": {"name": "gcp", "config": {"access-token": SECRET}}}}, "auth-provider", "exec"),
    ({"user": {"username": "admin", "password": SECRET}}, "username/password", "token"),
    ({"server": "127.0.0.1:6443"}, "server", "set its server"),
])
def test_a_bad_kubeconfig_names_the_field_and_the_fix_and_never_a_secret(
        tmp_path: Path, entry: dict[str, Any], field: str, fix: str) -> None:
    with pytest.raises(KubeconfigError) as raised:
        load(write(tmp_path / "kubeconfig", **entry))
    message = str(raised.value)
    assert field in message and fix in message and str(tmp_path) in message
    assert SECRET not in message


def test_a_missing_context_or_file_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(KubeconfigError, match="no current-context"):
        load(write(tmp_path / "kubeconfig", current=None))
    with pytest.raises(KubeconfigError, match="'other' is not in its contexts"):
        load(write(tmp_path / "kubeconfig"), context="other")
    with pytest.raises(KubeconfigError, match="no such file"):
        load(str(tmp_path / "missing"))


def plugin(tmp_path: Path, status: dict[str, Any], exit_code: int = 0) -> Path:
    """An exec plugin that counts its runs, records what it was given and prints ``status``."""
    script = tmp_path / "plugin.py"
    script.write_text(f"""#!{sys.executable}
import json, os, sys
runs = {str(tmp_path / "runs")!r}
with open(runs, "a") as out:
    out.write(json.dumps({{"info": os.environ.get("KUBERNETES_EXEC_INFO"), "region": os.environ.get("REGION"),
                          "args": sys.argv[1:], "stdin": sys.stdin.read()}}) + "\\n")
print(json.dumps({{"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
                  "status": {json.dumps(status)}}}))
sys.exit({exit_code})
""")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def runs(tmp_path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (tmp_path / "runs").read_text().splitlines()]


def exec_user(command: str, **extra: Any) -> dict[str, Any]:
    return {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": command, "args": ["token"],
                     "env": [{"name": "REGION", "value": "eu"}], "interactiveMode": "Never", **extra}}


def test_an_exec_plugin_is_run_again_only_when_its_token_expires(tmp_path: Path) -> None:
    plugin(tmp_path, {"token": SECRET, "expirationTimestamp": "2020-01-01T00:00:00Z"})
    with connect(insecure(tmp_path, user=exec_user("./plugin.py"))) as api:  # relative to the kubeconfig
        assert api.authorization() == {"Authorization": f"Bearer {SECRET}"}
        assert len(runs(tmp_path)) == 2, "expired at once: run at load and again for the request"
    first = runs(tmp_path)[0]
    assert first["args"] == ["token"] and first["region"] == "eu" and first["stdin"] == ""
    assert json.loads(first["info"])["spec"] == {"interactive": False}

    (tmp_path / "runs").unlink()
    plugin(tmp_path, {"token": SECRET, "expirationTimestamp": "2999-01-01T00:00:00Z"})
    with connect(insecure(tmp_path, user=exec_user(str(tmp_path / "plugin.py")))) as api:
        for _ in range(3):
            assert api.authorization() == {"Authorization": f"Bearer {SECRET}"}
    assert len(runs(tmp_path)) == 1, "a token that has not expired is kept"


def test_a_failing_or_missing_exec_plugin_is_named_with_its_hint_and_no_output(tmp_path: Path) -> None:
    plugin(tmp_path, {"token": SECRET}, exit_code=3)
    with pytest.raises(KubeconfigError) as raised:
        load(insecure(tmp_path, user=exec_user(str(tmp_path / "plugin.py"))))
    assert "exited with 3" in str(raised.value) and SECRET not in str(raised.value)
    with pytest.raises(KubeconfigError, match="not found; run: brew install it"):
        load(insecure(tmp_path, user=exec_user("no-such-plugin-here", installHint="run: brew install it")))


def test_in_a_pod_the_service_account_token_is_read_again_as_it_rotates(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "token").write_text("first")
    (tmp_path / "ca.crt").write_text("CA PEM")
    target = kc.in_cluster(tmp_path, {"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"})
    assert target.server == "https://[fd00::1]:443" and target.ca == "CA PEM"
    assert target.token is not None and target.token() == "first"
    (tmp_path / "token").write_text("second")
    assert target.token() == "first", "read at most once a minute"
    monkeypatch.setattr(kc, "TOKEN_FILE_INTERVAL", 0.0)
    assert target.token() == "second"
    with pytest.raises(KubeconfigError, match="set KUBECONFIG"):
        kc.in_cluster(tmp_path, {})


# -- a real TLS round trip ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return ensure_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def server(pki: Pki) -> Iterator[str]:
    """An HTTPS server on loopback that wants a client certificate of the CA and answers with its name."""
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            peer = self.connection.getpeercert()  # type: ignore[attr-defined]
            subject = dict(pair[0] for pair in peer["subject"]) if peer else {}
            body = json.dumps({"cn": subject.get("commonName"), "auth": self.headers.get("Authorization"),
                               "path": self.path}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            pass

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.serving_cert, pki.serving_key)
    context.load_verify_locations(pki.ca_cert)
    context.verify_mode = ssl.CERT_REQUIRED
    httpd = HTTPServer(("127.0.0.1", 0), Handler)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_client_certificate_from_the_kubeconfig_is_presented_and_the_server_checked(
        tmp_path: Path, pki: Pki, server: str) -> None:
    from lifecycle.local.pki import kubeconfig

    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(kubeconfig(pki, server, "test")))
    with connect(str(path)) as api:
        response = api.request("GET", "/version", query=[("a", "b")])
        assert response.status == 200
        answer = json.loads(response.read())
        assert answer == {"cn": "fluidlc-admin", "auth": None, "path": "/version?a=b"}
    assert not any(p.name.endswith(".pem") for p in tmp_path.iterdir()), "no key was written to a disk"

    untrusted = write(tmp_path / "other", server=server)  # no CA: the system's do not know this one
    with ApiServer(load(untrusted)) as api, pytest.raises(Exception, match="CERTIFICATE_VERIFY_FAILED"):
        api.request("GET", "/version", timeout=5.0).read()
