"""Where the API server is and who we are to it: read from a kubeconfig, or from the service account
of the pod we run in, the way kubectl reads them.

The `kubernetes` client's loader did this before; importing it brings the client's generated models,
15 MiB of the operator's resident memory (34 instead of 49 MiB for its modules and engines). What is
read:

  * ``$KUBECONFIG`` (a list of files, merged as kubectl merges them: the first to name a context,
    cluster or user wins) or ``~/.kube/config``, else the pod's service account;
  * the cluster's ``server``, ``certificate-authority(-data)``, ``insecure-skip-tls-verify``,
    ``tls-server-name`` and ``proxy-url``; relative paths are relative to the kubeconfig's folder;
  * the user's ``token``, ``tokenFile``, ``client-certificate(-data)`` and ``client-key(-data)``, and an
    ``exec`` credential plugin (what EKS, GKE and AKS use), run again when its token expires.

Refused, with the reason and the fix: ``auth-provider`` (removed from kubectl; each has an exec plugin
now) and ``username``/``password`` (basic authentication, removed from the API server in 1.19).
No error here quotes a credential; a plugin's own messages go to our stderr, as kubectl passes them.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
TOKEN_FILE_INTERVAL = 60.0  # a projected service-account token is rotated by the kubelet: read it again
EXEC_TIMEOUT = 120.0
EXPIRY_MARGIN = 10.0  # run a plugin again this long before its token expires


class KubeconfigError(ValueError):
    """The kubeconfig (or the pod's service account) cannot be used: the message names the file, the
    field and the fix."""


Token = Callable[[], str]  # the bearer token to send now


@dataclass(frozen=True)
class Target:
    """An API server and the credentials to reach it with."""

    server: str
    where: str  # for messages: the kubeconfig and context, or the service account
    ca: str | None = None  # PEM text of the certificates to trust; None: the system's
    verify: bool = True
    server_name: str | None = None
    proxy: str | None = None
    # Left out of the repr, so a log or a traceback that shows a Target shows no key or token.
    client_cert: bytes | None = field(default=None, repr=False)  # PEM
    client_key: bytes | None = field(default=None, repr=False)  # PEM
    token: Token | None = field(default=None, repr=False)


def load(kubeconfig: str | None = None, context: str | None = None) -> Target:
    """The target of ``kubeconfig`` (files separated as in ``$KUBECONFIG``; else ``$KUBECONFIG``,
    ``~/.kube/config``, the service account)."""
    # A list either way: the operator's --kubeconfig defaults to $KUBECONFIG.
    paths = [p for p in (kubeconfig or os.environ.get("KUBECONFIG", "")).split(os.pathsep) if p]
    if not paths:
        default = Path("~/.kube/config").expanduser()
        if not default.exists():
            return in_cluster()
        paths = [str(default)]
    found = [Path(p) for p in paths if Path(p).exists()]
    if not found:
        raise KubeconfigError(f"kubeconfig {os.pathsep.join(paths)}: no such file; "
                              "give an existing file (--kubeconfig or KUBECONFIG)")
    return _from_config(_merged(found), context)


def in_cluster(folder: Path = SERVICE_ACCOUNT, env: Mapping[str, str] = os.environ) -> Target:
    """The pod's own service account: its token (read again as it rotates) and the cluster's CA."""
    host, port = env.get("KUBERNETES_SERVICE_HOST"), env.get("KUBERNETES_SERVICE_PORT")
    if not host or not port or not (folder / "token").exists():
        raise KubeconfigError("no kubeconfig: set KUBECONFIG or --kubeconfig, write ~/.kube/config, "
                              f"or run in a pod with a service account token at {folder}")
    host = f"[{host}]" if ":" in host else host
    return Target(server=f"https://{host}:{port}", where=f"the service account at {folder}",
                  ca=(folder / "ca.crt").read_text(), token=TokenFile(folder / "token"))


# -- the kubeconfig file --------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Config:
    files: str  # for messages
    current: str
    entries: dict[str, dict[str, tuple[dict[str, Any], Path]]]  # kind -> name -> (entry, its file)


def _merged(paths: list[Path]) -> _Config:
    current = ""
    entries: dict[str, dict[str, tuple[dict[str, Any], Path]]] = {"contexts": {}, "clusters": {}, "users": {}}
    for path in paths:
        try:
            doc = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise KubeconfigError(f"kubeconfig {path}: not YAML ({exc.__class__.__name__}); fix or replace "
                                  "the file") from None
        if not isinstance(doc, dict):
            raise KubeconfigError(f"kubeconfig {path}: not a mapping; fix or replace the file")
        current = current or str(doc.get("current-context") or "")
        for kind, named in entries.items():
            for item in doc.get(kind) or []:
                if isinstance(item, dict) and item.get("name"):
                    named.setdefault(str(item["name"]), (item.get(kind[:-1]) or {}, path))
    return _Config(os.pathsep.join(map(str, paths)), current, entries)


def _from_config(config: _Config, context: str | None) -> Target:
    name = context or config.current
    if not name:
        raise KubeconfigError(f"kubeconfig {config.files}: no current-context; set one "
                              "(kubectl config use-context NAME)")
    ctx = _entry(config, "contexts", name, "context")
    cluster_name, user_name = str(ctx[0].get("cluster") or ""), str(ctx[0].get("user") or "")
    cluster, cluster_file = _entry(config, "clusters", cluster_name, f"context {name!r}'s cluster")
    user, user_file = config.entries["users"].get(user_name, ({}, ctx[1])) if user_name else ({}, ctx[1])
    where = f"kubeconfig {ctx[1]}, context {name!r}"
    server = str(cluster.get("server") or "")
    if not server.startswith(("https://", "http://")):
        raise KubeconfigError(f"{where}: cluster {cluster_name!r} has no https:// server; set its server")
    cert, key = _pem(user, "client-certificate", user_file, where), _pem(user, "client-key", user_file, where)
    if (cert is None) != (key is None):
        raise KubeconfigError(f"{where}: user {user_name!r} has a client certificate or a key without the "
                              "other; give both client-certificate(-data) and client-key(-data)")
    token, cert, key = _user_token(user, user_file, where, cert, key)
    ca = _pem(cluster, "certificate-authority", cluster_file, where)
    return Target(server=server.rstrip("/"), where=where, ca=ca.decode() if ca else None,
                  verify=not cluster.get("insecure-skip-tls-verify"),
                  server_name=cluster.get("tls-server-name") or None, proxy=cluster.get("proxy-url") or None,
                  client_cert=cert, client_key=key, token=token)


def _entry(config: _Config, kind: str, name: str, what: str) -> tuple[dict[str, Any], Path]:
    found = config.entries[kind].get(name)
    if found is None:
        raise KubeconfigError(f"kubeconfig {config.files}: {what} {name!r} is not in its {kind}; "
                              "add it or pick another")
    return found


def _pem(entry: dict[str, Any], key: str, origin: Path, where: str) -> bytes | None:
    """A PEM block given inline (``KEY-data``, base64) or as a file (``KEY``)."""
    if entry.get(f"{key}-data"):
        try:
            return base64.b64decode(str(entry[f"{key}-data"]), validate=True)
        except ValueError:
            raise KubeconfigError(f"{where}: {key}-data is not base64; encode the PEM text") from None
    if entry.get(key):
        path = _relative(str(entry[key]), origin)
        try:
            return path.read_bytes()
        except OSError as exc:
            raise KubeconfigError(f"{where}: {key} {path}: {exc.strerror}; fix the path") from None
    return None


def _relative(value: str, origin: Path) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else origin.parent / path


def _user_token(user: dict[str, Any], origin: Path, where: str, cert: bytes | None,
                key: bytes | None) -> tuple[Token | None, bytes | None, bytes | None]:
    if user.get("auth-provider"):
        raise KubeconfigError(f"{where}: auth-provider is not supported (kubectl dropped it too); use the "
                              "provider's exec plugin (gke-gcloud-auth-plugin, kubelogin, ...)")
    if user.get("username") or user.get("password"):
        raise KubeconfigError(f"{where}: username/password (basic authentication) is not supported by "
                              "API servers since 1.19; use a token or a client certificate")
    if user.get("token"):
        value = str(user["token"])
        return (lambda: value), cert, key
    if user.get("tokenFile"):
        return TokenFile(_relative(str(user["tokenFile"]), origin)), cert, key
    if user.get("exec"):
        plugin = ExecPlugin(user["exec"], origin, where)
        if not plugin.gives_token():  # a client certificate instead, read once
            return None, plugin.client_cert, plugin.client_key
        return plugin, cert, key
    return None, cert, key


# -- tokens that change -----------------------------------------------------------------------------------

class TokenFile:
    """A token in a file, read again at most every minute (kubelets rotate projected tokens)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._token, self._read_at = "", float("-inf")

    def __call__(self) -> str:
        with self._lock:
            if time.monotonic() - self._read_at >= TOKEN_FILE_INTERVAL:
                try:
                    self._token = self.path.read_text().strip()
                except OSError as exc:
                    raise KubeconfigError(f"token file {self.path}: {exc.strerror}") from None
                self._read_at = time.monotonic()
            return self._token


class ExecPlugin:
    """A credential plugin (client.authentication.k8s.io): run with no stdin, its ExecCredential read
    from stdout; its token is kept until shortly before its ``expirationTimestamp``."""

    def __init__(self, spec: dict[str, Any], origin: Path, where: str) -> None:
        command = str(spec.get("command") or "")
        if not command:
            raise KubeconfigError(f"{where}: the user's exec has no command; name the plugin to run")
        # A command with a slash is a path, relative to the kubeconfig (as kubectl has it).
        self.argv = [str(_relative(command, origin)) if "/" in command else command,
                     *(str(a) for a in spec.get("args") or [])]
        self.api_version = str(spec.get("apiVersion") or "client.authentication.k8s.io/v1beta1")
        self.env = {str(e["name"]): str(e.get("value", "")) for e in spec.get("env") or [] if e.get("name")}
        self.hint = str(spec.get("installHint") or "")
        self.where = where
        self._lock = threading.Lock()
        self._expires = 0.0
        self._status = self._run()

    def gives_token(self) -> bool:
        return bool(self._status.get("token"))

    @property
    def client_cert(self) -> bytes | None:
        return str(self._status["clientCertificateData"]).encode() if self._status.get("clientCertificateData") \
            else None

    @property
    def client_key(self) -> bytes | None:
        return str(self._status["clientKeyData"]).encode() if self._status.get("clientKeyData") else None

    def __call__(self) -> str:
        with self._lock:
            if self._expires and time.time() >= self._expires - EXPIRY_MARGIN:
                self._status = self._run()
            return str(self._status.get("token") or "")

    def _run(self) -> dict[str, Any]:
        program = self.argv[0]
        info = {"apiVersion": self.api_version, "kind": "ExecCredential", "spec": {"interactive": False}}
        env = {**os.environ, **self.env, "KUBERNETES_EXEC_INFO": json.dumps(info)}
        try:
            done = subprocess.run(self.argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  timeout=EXEC_TIMEOUT, check=False)
        except FileNotFoundError:
            raise KubeconfigError(f"{self.where}: exec plugin {program!r} not found; "
                                  f"{self.hint or 'install it or fix the command'}") from None
        except subprocess.TimeoutExpired:
            raise KubeconfigError(f"{self.where}: exec plugin {program!r} did not answer within "
                                  f"{EXEC_TIMEOUT:g}s") from None
        if done.returncode != 0:
            raise KubeconfigError(f"{self.where}: exec plugin {program!r} exited with {done.returncode} "
                                  "(its own message, if any, is on stderr above)")
        try:
            status = json.loads(done.stdout).get("status") or {}
        except (ValueError, AttributeError):
            raise KubeconfigError(f"{self.where}: exec plugin {program!r} wrote no ExecCredential JSON") from None
        if not status.get("token") and not status.get("clientCertificateData"):
            raise KubeconfigError(f"{self.where}: exec plugin {program!r} gave neither a token nor a client "
                                  "certificate")
        expiry = status.get("expirationTimestamp")
        self._expires = _timestamp(str(expiry)) if expiry else 0.0
        return dict(status)


def _timestamp(text: str) -> float:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0  # unreadable: keep the token, as if it never expired
