"""The gateway to a real API server.

It speaks raw REST over one ``ApiServer`` (``lifecycle.k8s.connection``: the kubeconfig, TLS, tokens
and the connection pool) and moves plain JSON dicts: no generated model classes, so nothing is lost
or slowed down by deserialisation, and custom resources are handled like built-in ones.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import cached_property
from typing import Any
from urllib.parse import quote

import orjson

from lifecycle.k8s.connection import ApiServer
from lifecycle.k8s.events import EventCounts
from lifecycle.k8s.fields import claim_patch
from lifecycle.k8s.gateway import (
    ApiError,
    Argv,
    Conflict,
    ExecResult,
    Forbidden,
    Invalid,
    KnownResources,
    NotFound,
    Obj,
    Objs,
    Resource,
    Versions,
    version_of,
    versions_of,
)
from lifecycle.k8s.naming import FIELD_MANAGER
from lifecycle.k8s.podexec import ExecRefused, PodExec, PodExecError

log = logging.getLogger("lifecycle.k8s.kube")

DEFAULT_TIMEOUT = 30.0
# Lists and watches of metadata only: what controller-runtime's metadata informers ask for.
METADATA = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"
METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"


class Gone(ApiError):
    """The watch's resourceVersion is too old (HTTP 410): list again."""

    status = 410


def _command_words(argv: Argv) -> str:
    """The program and its leading subcommand words (``alluxio fsadmin report``), for the log: no
    argument that could carry a path, a URL or a value."""
    words = [argv[0].rsplit("/", 1)[-1]] if argv else []
    for arg in argv[1:4]:
        if not arg.isalpha():
            break
        words.append(arg)
    return " ".join(words)


def _error(status: int, body: bytes, what: str) -> ApiError:
    try:
        message = json.loads(body).get("message") or body.decode(errors="replace")
    except (ValueError, AttributeError):
        message = body.decode(errors="replace") if isinstance(body, bytes) else str(body)
    return _typed_error(status, f"{what}: {message}")


def _typed_error(status: int, text: str) -> ApiError:
    kinds: dict[int, type[ApiError]] = {403: Forbidden, 404: NotFound, 409: Conflict, 410: Gone, 422: Invalid}
    cls = kinds.get(status, ApiError)
    return cls(text) if cls is not ApiError else ApiError(text, status)


class KubeGateway(KnownResources):
    def __init__(self, api: ApiServer, resources: tuple[Resource, ...] = (), timeout: float = DEFAULT_TIMEOUT,
                 component: str = FIELD_MANAGER):
        super().__init__(resources)
        self.api = api
        self.timeout = timeout
        self.component = component
        self._lock = threading.Lock()
        self.requests = 0
        self.event_counts = EventCounts()
        # Told (method, HTTP status) of every request: the operator's rest_client_requests_total.
        self.on_response: Callable[[str, int], None] = lambda method, status: None

    @cached_property
    def _pod_exec(self) -> PodExec:
        """One for all execs: its TLS context and session serve every command (see podexec)."""
        return PodExec(self.api)

    # -- plumbing -----------------------------------------------------------------------------

    @staticmethod
    def path(res: Resource, namespace: str | None = None, name: str | None = None, sub: str | None = None) -> str:
        base = f"/apis/{res.group}/{res.version}" if res.group else f"/api/{res.version}"
        if res.namespaced and namespace:
            base += f"/namespaces/{quote(namespace)}"
        base += f"/{res.plural}"
        if name:
            base += f"/{quote(name)}"
        if sub:
            base += f"/{sub}"
        return base

    def request(self, method: str, path: str, *, query: list[tuple[str, str]] | None = None, body: Any = None,
                content_type: str = "application/json", timeout: float | tuple[float, float] | None = None,
                stream: bool = False, accept: str = "application/json", what: str = "") -> Any:
        """The answer's JSON (or, with ``stream``, the unread response). A body is encoded here with
        orjson; an apply's comes as bytes already (``_yaml_safe_json``)."""
        headers = {"Accept": accept, "Content-Type": content_type}
        data = None if body is None else body if isinstance(body, bytes) else orjson.dumps(body)
        with self._lock:
            self.requests += 1
        started = time.perf_counter()
        response = self.api.request(method, path, query=query or (), headers=headers, body=data,
                                    timeout=timeout or self.timeout)
        self.on_response(method, response.status)
        if log.isEnabledFor(logging.DEBUG):  # the path names objects only; no body or query is logged
            log.debug("%s %s: %d after %.0f ms", method, path, response.status, (time.perf_counter() - started) * 1000)
        if stream:
            if response.status >= 300:
                try:
                    raise _error(response.status, response.read(), what or f"{method} {path}")
                finally:
                    response.release_conn()
            return response
        try:
            data = response.read()
        finally:
            response.release_conn()
        if response.status >= 300:
            raise _error(response.status, data, what or f"{method} {path}")
        return orjson.loads(data) if data else None

    def _obj(self, method: str, path: str, **kwargs: Any) -> Obj:
        """A request whose answer is one object."""
        found: Obj = self.request(method, path, **kwargs)
        return found

    # -- the Gateway protocol -----------------------------------------------------------------

    def get(self, res: Resource, namespace: str | None, name: str) -> Obj | None:
        try:
            obj: Obj = self.request("GET", self.path(res, namespace, name))
        except NotFound:
            return None
        obj.setdefault("apiVersion", res.api_version)
        obj.setdefault("kind", res.kind)
        return obj

    def resource_version(self, res: Resource, namespace: str | None, name: str) -> str | None:
        return version_of(self.get(res, namespace, name))

    def list_with_version(self, res: Resource, namespace: str | None = None, labels: dict[str, str] | None = None,
                          metadata_only: bool = False) -> tuple[Objs, str]:
        """The objects and the list's resourceVersion. ``metadata_only`` asks the API server for
        their metadata alone (PartialObjectMetadata): a Secret's values then never leave it."""
        query = [("labelSelector", ",".join(f"{k}={v}" for k, v in labels.items()))] if labels else []
        accept = METADATA_LIST if metadata_only else "application/json"
        data = self.request("GET", self.path(res, namespace), query=query, accept=accept)
        items = data.get("items") or []
        for item in items:
            _typed(item, res, metadata_only)
        return items, (data.get("metadata") or {}).get("resourceVersion", "")

    def list(self, res: Resource, namespace: str | None = None, labels: dict[str, str] | None = None) -> Objs:
        return self.list_with_version(res, namespace, labels)[0]

    def list_versions(self, res: Resource, namespace: str | None = None,
                      labels: dict[str, str] | None = None) -> Versions:
        return versions_of(self.list_with_version(res, namespace, labels, metadata_only=True)[0])

    def _named(self, obj: Obj) -> tuple[Resource, str | None, str]:
        res = self.resource(obj["apiVersion"], obj["kind"])
        meta = obj.get("metadata") or {}
        return res, meta.get("namespace"), meta["name"]

    def create(self, obj: Obj) -> Obj:
        res, ns, name = self._named(obj)
        return self._obj("POST", self.path(res, ns), body=obj, query=[("fieldManager", self.component)],
                         what=f"create {res.kind} {ns}/{name}")

    def claim_created_fields(self, res: Resource, live: Obj) -> bool:
        """Reads the object for its field bookkeeping (informers keep none) and patches it if needed."""
        meta = live["metadata"]
        ns, name = meta.get("namespace"), meta["name"]
        fresh = self.get(res, ns, name)
        patch = claim_patch(fresh, self.component) if fresh is not None else []
        if not patch:
            return False
        self._obj("PATCH", self.path(res, ns, name), body=patch, content_type="application/json-patch+json",
                  what=f"hand the created fields of {res.kind} {ns}/{name} to its applies")
        return True

    def apply(self, obj: Obj, dry_run: bool = False) -> Obj:
        res, ns, name = self._named(obj)
        query = [("fieldManager", self.component), ("force", "true"), *([("dryRun", "All")] if dry_run else [])]
        return self._obj(
            "PATCH", self.path(res, ns, name), body=_yaml_safe_json(obj), content_type="application/apply-patch+yaml",
            query=query, what=f"apply {res.kind} {ns}/{name}")

    def patch(self, res: Resource, namespace: str | None, name: str, patch: Obj, sub: str | None = None) -> Obj:
        """A JSON merge patch of the object (or of its ``sub`` resource, e.g. ``status``)."""
        return self._obj(
            "PATCH", self.path(res, namespace, name, sub), body=patch, content_type="application/merge-patch+json",
            what=f"patch {res.kind} {namespace}/{name}" + (f" {sub}" if sub else ""))

    def replace_status(self, obj: Obj) -> Obj:
        res, ns, name = self._named(obj)
        return self._obj("PUT", self.path(res, ns, name, "status"), body=obj,
                            what=f"update status of {res.kind} {ns}/{name}")

    def delete(self, res: Resource, namespace: str | None, name: str, uid: str | None = None) -> bool:
        body: Obj = {"propagationPolicy": "Background", **({"preconditions": {"uid": uid}} if uid else {})}
        try:
            self.request("DELETE", self.path(res, namespace, name), body=body,
                         what=f"delete {res.kind} {namespace}/{name}")
        except NotFound:
            return False
        return True

    def exec(self, namespace: str, pod: str, container: str | None, argv: Argv,
             timeout: float = 60.0) -> ExecResult:
        """Run ``argv`` (a vector, never a shell string) in a pod through the API server."""
        with self._lock:
            self.requests += 1
        started = time.perf_counter()
        try:
            result = self._pod_exec.run(namespace, pod, argv, container=container, timeout=timeout)
        except ExecRefused as exc:
            self.on_response("EXEC", exc.status)
            raise _typed_error(exc.status, str(exc)) from exc
        except PodExecError as exc:
            self.on_response("EXEC", 101)
            raise ApiError(str(exc)) from exc
        except OSError as exc:  # no connection, or TLS refused: the message names no argument
            self.on_response("EXEC", 0)
            raise ApiError(f"exec in pod {namespace}/{pod}: {exc}") from exc
        self.on_response("EXEC", 101)  # counted with the other requests (the upgrade's status)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("EXEC %s in %s/%s: exit %d after %.0f ms", _command_words(argv), namespace, pod,
                      result.returncode, (time.perf_counter() - started) * 1000)
        return ExecResult(result.stdout, result.stderr, result.returncode)

    def event(self, obj: Obj, type_: str, reason: str, message: str) -> None:
        """Record an event; a repeat is counted on the first one (see lifecycle.k8s.events)."""
        meta = obj.get("metadata") or {}
        namespace = meta.get("namespace") or "default"
        message = message[:1024]
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        key = (namespace, str(meta.get("uid") or meta.get("name")), type_, reason, message)
        events = f"/api/v1/namespaces/{quote(namespace)}/events"
        try:
            repeat = self.event_counts.repeat_of(key)
            if repeat is not None:
                first, count = repeat
                try:
                    self.request("PATCH", f"{events}/{quote(first)}", body={"count": count + 1, "lastTimestamp": now},
                                 content_type="application/merge-patch+json")
                    self.event_counts.recorded(key, first, count + 1)
                    return
                except NotFound:
                    self.event_counts.forget(key)  # expired or deleted: start a new one
            name = f"{meta.get('name', 'object')}.{secrets.token_hex(8)}"
            self.request("POST", events, body={
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": name, "namespace": namespace},
                "involvedObject": {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"),
                                   "name": meta.get("name"), "namespace": meta.get("namespace"),
                                   "uid": meta.get("uid"), "resourceVersion": meta.get("resourceVersion")},
                "reason": reason,
                "message": message,
                "type": type_,
                "source": {"component": self.component},
                "reportingComponent": self.component,
                "firstTimestamp": now,
                "lastTimestamp": now,
                "count": 1,
            })
            self.event_counts.recorded(key, name, 1)
        except ApiError as exc:  # an event is best effort: never fail a reconcile over it
            log.warning("could not record event %s on %s/%s: %s", reason, namespace, meta.get("name"), exc)

    # -- watching -----------------------------------------------------------------------------

    def watch(self, res: Resource, resource_version: str, namespace: str | None = None,
              timeout_seconds: int = 300, stall_seconds: float = 120.0,
              metadata_only: bool = False) -> Iterator[tuple[str, Obj]]:
        """Events after ``resource_version`` with bookmarks; raises Gone when it is too old.

        A watch that sends nothing (not even a bookmark) for ``stall_seconds`` is taken as
        stalled: the read times out and the caller watches again from the last version. With
        ``metadata_only`` the events carry only the objects' metadata (see ``list_with_version``).
        """
        query = [("watch", "true"), ("resourceVersion", resource_version), ("allowWatchBookmarks", "true"),
                 ("timeoutSeconds", str(timeout_seconds))]
        response = self.request("GET", self.path(res, namespace), query=query, stream=True,
                                accept=METADATA if metadata_only else "application/json",
                                timeout=(10.0, stall_seconds), what=f"watch {res.plural}")
        try:
            for line in _lines(response):
                event = orjson.loads(line)
                kind, obj = event.get("type"), event.get("object") or {}
                if kind == "ERROR":
                    code = int(obj.get("code") or 0)
                    if code == 410:
                        raise Gone(f"watch {res.plural}: {obj.get('message')}")
                    raise ApiError(f"watch {res.plural}: {obj.get('message')}", code)
                if kind != "BOOKMARK":
                    _typed(obj, res, metadata_only)
                yield kind, obj
        finally:
            response.release_conn()


def _yaml_safe_json(obj: Obj) -> bytes:
    """An apply's body: JSON with every character past ASCII escaped, since the API server reads it as
    YAML, which takes a raw U+2028 in a string for a line break (shown on the real API server).
    orjson writes the same bytes for an all-ASCII object ten times faster than ``json`` (whose
    encoder was 6 % of the operator's setup CPU); only other objects go through ``json``."""
    try:
        text = orjson.dumps(obj)
    except orjson.JSONEncodeError:  # an integer over 64 bits, say: ``json`` writes it, or says why not
        return json.dumps(obj).encode()
    return text if text.isascii() else json.dumps(obj).encode()


def _typed(obj: Obj, res: Resource, metadata_only: bool) -> None:
    """Items of a list (and metadata-only objects) do not always say what they are: make them say."""
    if metadata_only:
        obj["apiVersion"], obj["kind"] = res.api_version, res.kind
    else:
        obj.setdefault("apiVersion", res.api_version)
        obj.setdefault("kind", res.kind)


def _lines(response: Any) -> Iterator[bytes]:
    """Newline-delimited JSON from a streaming response, as the chunks arrive."""
    pending = b""
    for chunk in response.stream(4096, decode_content=True):
        pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            if line.strip():
                yield line
    if pending.strip():
        yield pending
