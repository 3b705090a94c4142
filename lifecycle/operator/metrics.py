"""Prometheus metrics (named as controller-runtime names them) and the /healthz and /readyz probes."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTROLLER = "pair"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.reconcile_total = Counter(
            "controller_runtime_reconcile_total", "Reconciles per controller and result.",
            ["controller", "result"], registry=self.registry)
        self.reconcile_time = Histogram(
            "controller_runtime_reconcile_time_seconds", "Time of one reconcile pass.", ["controller"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60), registry=self.registry)
        self.workqueue_depth = Gauge("workqueue_depth", "Keys waiting in the work queue.", ["name"],
                                     registry=self.registry)
        self.workqueue_adds = Counter("workqueue_adds_total", "Keys added to the work queue.", ["name"],
                                      registry=self.registry)
        self.workqueue_queue_duration = Histogram(
            "workqueue_queue_duration_seconds", "Seconds a key waited in the work queue before a worker took it.",
            ["name"], buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
            registry=self.registry)
        self.workqueue_retries = Counter("workqueue_retries_total", "Keys re-queued after a failure.", ["name"],
                                         registry=self.registry)
        self.transitions = Counter("lifecycle_transitions_total", "Lifecycle machine transitions.",
                                   ["machine", "from", "to"], registry=self.registry)
        self.requests = Counter("rest_client_requests_total", "Requests to the API server, by method and status.",
                                ["code", "method"], registry=self.registry)
        self.leader = Gauge("leader_election_master_status", "1 while this process holds the Lease.", ["name"],
                            registry=self.registry)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


Probe = Callable[[], tuple[bool, str]]


class ProbeServer:
    """Serves /metrics, /healthz and /readyz on one address."""

    def __init__(self, address: str, metrics: Metrics, healthz: Probe, readyz: Probe):
        host, _, port = address.rpartition(":")
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/metrics":
                    self._send(200, outer.metrics.exposition(), CONTENT_TYPE_LATEST)
                elif self.path in ("/healthz", "/readyz"):
                    ok, detail = (outer.healthz if self.path == "/healthz" else outer.readyz)()
                    self._send(200 if ok else 503, detail.encode(), "text/plain; charset=utf-8")
                else:
                    self._send(404, b"not found\n", "text/plain; charset=utf-8")

            def _send(self, code: int, body: bytes, content_type: str) -> None:
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: object) -> None:  # probes every few seconds would flood the log
                return

        self.metrics, self.healthz, self.readyz = metrics, healthz, readyz
        self.server = ThreadingHTTPServer((host or "127.0.0.1", int(port)), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, name="probes", daemon=True)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
