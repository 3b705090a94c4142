"""Certificates, keys and the admin kubeconfig of a local control plane, made with the openssl CLI.

One CA signs a serving certificate (the API server, controller manager, scheduler and kwok's
kubelet endpoint all listen on 127.0.0.1 with it) and an admin client certificate in
system:masters. The service-account key pair signs and verifies service-account tokens.
"""

from __future__ import annotations

import base64
import secrets
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from lifecycle.local.processes import LOOPBACK, ComponentError

# The first address of --service-cluster-ip-range is the `kubernetes` service; in-cluster clients
# dial it or the DNS names below, so the serving certificate names them all.
SERVICE_CLUSTER_IP_RANGE = "10.96.0.0/24"
KUBERNETES_SERVICE_IP = "10.96.0.1"
SERVING_DNS_NAMES = (
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
)
SERVING_IPS = (LOOPBACK, KUBERNETES_SERVICE_IP)
ADMIN_SUBJECT = "/O=system:masters/CN=fluidlc-admin"
CA_SUBJECT = "/CN=fluidlc-local-ca"
SERVING_SUBJECT = "/CN=kube-apiserver"

_OPENSSL_CONFIG = """\
[req]
distinguished_name = dn
[dn]
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign, digitalSignature
subjectKeyIdentifier = hash
[serving]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
authorityKeyIdentifier = keyid
subjectAltName = {sans}
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
"""


@dataclass(frozen=True)
class Pki:
    """Paths of the files `ensure_pki` writes."""

    dir: Path

    @property
    def ca_cert(self) -> Path:
        return self.dir / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.dir / "ca.key"

    @property
    def serving_cert(self) -> Path:
        return self.dir / "serving.crt"

    @property
    def serving_key(self) -> Path:
        return self.dir / "serving.key"

    @property
    def admin_cert(self) -> Path:
        return self.dir / "admin.crt"

    @property
    def admin_key(self) -> Path:
        return self.dir / "admin.key"

    @property
    def service_account_key(self) -> Path:
        return self.dir / "service-account.key"

    @property
    def service_account_pub(self) -> Path:
        return self.dir / "service-account.pub"

    @property
    def encryption_config(self) -> Path:
        """The API server's encryption-at-rest key for Secrets, so etcd's files never hold a value."""
        return self.dir / "encryption.yaml"

    def files(self) -> list[Path]:
        return [
            self.ca_cert,
            self.ca_key,
            self.serving_cert,
            self.serving_key,
            self.admin_cert,
            self.admin_key,
            self.service_account_key,
            self.service_account_pub,
        ]


def _openssl(*args: str | Path) -> None:
    try:
        result = subprocess.run(["openssl", *map(str, args)], capture_output=True, text=True, check=False)
    except FileNotFoundError as exc:
        raise ComponentError("pki", "the openssl command is not installed", "install openssl") from exc
    if result.returncode != 0:
        raise ComponentError(
            "pki",
            f"openssl {args[0]} failed: {result.stderr.strip()}",
            "check the openssl installation (OpenSSL >= 1.1.1 is needed)",
        )


def _new_key(path: Path) -> None:
    _openssl("genrsa", "-out", path, "2048")
    path.chmod(0o600)


def _signed_cert(pki: Pki, config: Path, key: Path, cert: Path, subject: str, extensions: str) -> None:
    csr = cert.with_suffix(".csr")
    _openssl("req", "-new", "-key", key, "-subj", subject, "-config", config, "-out", csr)
    _openssl(
        "x509", "-req", "-in", csr, "-CA", pki.ca_cert, "-CAkey", pki.ca_key,
        "-set_serial", str(secrets.randbits(63)), "-days", "825",
        "-extfile", config, "-extensions", extensions, "-out", cert,
    )  # fmt: skip
    csr.unlink()


def ensure_pki(directory: Path) -> Pki:
    """Create whatever of the PKI is missing in `directory`; existing files are kept.

    Keeping them lets a cluster that is stopped and started again keep its kubeconfig valid.
    A new CA invalidates every certificate it signed, so then all of them are made again.
    """
    pki = Pki(directory)
    if all(p.exists() for p in pki.files()):
        return pki
    directory.mkdir(parents=True, exist_ok=True)
    sans = ", ".join([*(f"IP:{ip}" for ip in SERVING_IPS), *(f"DNS:{name}" for name in SERVING_DNS_NAMES)])
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "openssl.cnf"
        config.write_text(_OPENSSL_CONFIG.format(sans=sans))
        new_ca = not (pki.ca_cert.exists() and pki.ca_key.exists())
        if new_ca:
            _new_key(pki.ca_key)
            _openssl(
                "req", "-x509", "-new", "-key", pki.ca_key, "-subj", CA_SUBJECT, "-days", "3650",
                "-config", config, "-extensions", "ca", "-out", pki.ca_cert,
            )  # fmt: skip
        for key, cert, subject, extensions in (
            (pki.serving_key, pki.serving_cert, SERVING_SUBJECT, "serving"),
            (pki.admin_key, pki.admin_cert, ADMIN_SUBJECT, "client"),
        ):
            if new_ca or not (key.exists() and cert.exists()):
                _new_key(key)
                _signed_cert(pki, config, key, cert, subject, extensions)
    if not (pki.service_account_key.exists() and pki.service_account_pub.exists()):
        _new_key(pki.service_account_key)
        _openssl("rsa", "-in", pki.service_account_key, "-pubout", "-out", pki.service_account_pub)
    if not pki.encryption_config.exists():
        _write_encryption_config(pki.encryption_config)
    return pki


def _write_encryption_config(path: Path) -> None:
    """Secrets sealed with a random secretbox key; ``identity`` last, so data written before is still read."""
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    config = {"apiVersion": "apiserver.config.k8s.io/v1", "kind": "EncryptionConfiguration",
              "resources": [{"resources": ["secrets"], "providers": [
                  {"secretbox": {"keys": [{"name": "local", "secret": key}]}}, {"identity": {}}]}]}
    path.touch(mode=0o600)
    path.write_text(yaml.safe_dump(config))


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def kubeconfig(pki: Pki, server: str, name: str) -> dict[str, object]:
    """An admin kubeconfig with the certificates embedded, so it works when copied elsewhere."""
    context = f"fluidlc-{name}"
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": context, "cluster": {"server": server, "certificate-authority-data": _b64(pki.ca_cert)}}
        ],
        "users": [
            {
                "name": f"{context}-admin",
                "user": {
                    "client-certificate-data": _b64(pki.admin_cert),
                    "client-key-data": _b64(pki.admin_key),
                },
            }
        ],
        "contexts": [{"name": context, "context": {"cluster": context, "user": f"{context}-admin"}}],
        "current-context": context,
        "preferences": {},
    }


def write_kubeconfig(path: Path, pki: Pki, server: str, name: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(kubeconfig(pki, server, name), sort_keys=False))
    tmp.chmod(0o600)
    tmp.replace(path)
    return path
