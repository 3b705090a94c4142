"""One API server: its address, one TLS context, the credentials of each request and a pool of
connections (urllib3's), shared by every thread of the operator and by its pod execs."""

from __future__ import annotations

import os
import ssl
import tempfile
from collections.abc import Sequence
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlencode

import urllib3

from lifecycle.k8s.kubeconfig import Target, load


def connect(kubeconfig: str | None = None, connections: int | None = None, context: str | None = None) -> ApiServer:
    """The API server of ``kubeconfig`` (see ``lifecycle.k8s.kubeconfig`` for where else it looks),
    keeping up to ``connections`` open connections (at least five per CPU): an operator whose watches
    and workers need more would otherwise open a new TLS connection for almost every request."""
    return ApiServer(load(kubeconfig, context), connections)


class ApiServer:
    def __init__(self, target: Target, connections: int | None = None) -> None:
        self.target = target
        self.host = target.server
        self.server_name = target.server_name
        self.proxy = target.proxy
        self._token = target.token
        self.tls = tls_context(target) if self.host.startswith("https:") else None
        pool: dict[str, Any] = {"num_pools": 4, "maxsize": max(5 * (os.cpu_count() or 1), connections or 0)}
        if self.tls is not None:
            pool.update(ssl_context=self.tls, cert_reqs=self.tls.verify_mode,
                        **({"server_hostname": self.server_name} if self.server_name else {}),
                        **({} if target.verify else {"assert_hostname": False}))
        self.pool: urllib3.PoolManager = (urllib3.ProxyManager(self.proxy, **pool) if self.proxy
                                          else urllib3.PoolManager(**pool))

    def url(self, path: str, query: Sequence[tuple[str, str]] = ()) -> str:
        return self.host + path + ("?" + urlencode(query, quote_via=quote) if query else "")

    def authorization(self) -> dict[str, str]:
        """The header that says who we are (empty for a client certificate): a token that expires is
        fetched again here."""
        token = self._token() if self._token is not None else ""
        return {"Authorization": f"Bearer {token}"} if token else {}

    def request(self, method: str, path: str, *, query: Sequence[tuple[str, str]] = (),
                headers: dict[str, str] | None = None, body: bytes | None = None,
                timeout: float | tuple[float, float] = 30.0) -> urllib3.BaseHTTPResponse:
        """The answer, not yet read (``read()`` it, or ``stream()`` a watch and ``release_conn()``)."""
        limit = (urllib3.Timeout(connect=timeout[0], read=timeout[1]) if isinstance(timeout, tuple)
                 else urllib3.Timeout(total=timeout))
        return self.pool.request(method, self.url(path, query), body=body,
                                 headers={**(headers or {}), **self.authorization()},
                                 timeout=limit, preload_content=False)

    def close(self) -> None:
        self.pool.clear()

    def __enter__(self) -> ApiServer:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def tls_context(target: Target) -> ssl.SSLContext:
    """One context for every connection: the CA and the client certificate are read once."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if not target.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif target.ca:
        context.load_verify_locations(cadata=target.ca)
    else:
        context.load_default_certs(ssl.Purpose.SERVER_AUTH)
    if target.client_cert and target.client_key:
        _load_chain(context, target.client_cert, target.client_key)
    return context


def _load_chain(context: ssl.SSLContext, cert: bytes, key: bytes) -> None:
    """``ssl`` reads a certificate and key only from files: hand it files that never touch a disk
    (memfd on Linux), else private temporary files removed at once."""
    if hasattr(os, "memfd_create"):
        fds = [os.memfd_create("client-certificate"), os.memfd_create("client-key")]
        try:
            for fd, pem in zip(fds, (cert, key), strict=True):
                os.write(fd, pem)
            context.load_cert_chain(f"/proc/self/fd/{fds[0]}", f"/proc/self/fd/{fds[1]}")
        finally:
            for fd in fds:
                os.close(fd)
        return
    with tempfile.TemporaryDirectory() as folder:  # mode 0700
        paths = [os.path.join(folder, "cert.pem"), os.path.join(folder, "key.pem")]
        for path, pem in zip(paths, (cert, key), strict=True):
            with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
                out.write(pem)
        context.load_cert_chain(paths[0], paths[1])
