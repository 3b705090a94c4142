"""What the operator's log says at each level: a pass at debug says how long it waited in the queue."""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass

import pytest

from lifecycle.cli.operator import _level, add_operator_flags
from lifecycle.operator.attempt import reconcile_key
from lifecycle.operator.logs import TextFormatter
from lifecycle.operator.metrics import Metrics
from lifecycle.operator.workqueue import WorkQueue


@dataclass
class Done:
    failed: bool = False
    failure: str | None = None
    requeue_after: float | None = None


def _pass(queue: WorkQueue) -> None:
    key = queue.get(timeout=0)
    reconcile_key("pair", Metrics(), queue, key, "ns/a", "ns/a", Done)
    queue.done(key)


def test_at_debug_a_pass_says_its_time_and_its_wait_in_the_queue_and_why_it_came(
        caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    queue = WorkQueue(clock=lambda: now[0])
    queue.add(("ns", "a"))
    now[0] = 1.25
    with caplog.at_level(logging.DEBUG, logger="lifecycle.operator"):
        _pass(queue)
        queue.add(("ns", "a"), routine=True)
        now[0] = 1.75
        _pass(queue)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert lines[0].startswith("pass of ns/a: ") and lines[0].endswith("after 1.250s in the queue (event or retry)")
    assert lines[1].endswith("after 0.500s in the queue (routine)")


def test_at_info_a_pass_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    queue = WorkQueue()
    queue.add(("ns", "a"))
    with caplog.at_level(logging.INFO, logger="lifecycle.operator"):
        _pass(queue)
    assert caplog.records == []


def test_the_log_level_comes_from_the_flag_the_environment_or_verbose(monkeypatch: pytest.MonkeyPatch) -> None:
    parser = argparse.ArgumentParser()
    add_operator_flags(parser)
    assert _level(parser.parse_args([])) == "info"
    assert _level(parser.parse_args(["--log-level", "warning"])) == "warning"
    assert _level(argparse.Namespace(verbose=True, log_level="warning")) == "debug"
    monkeypatch.setenv("FLUIDLC_LOG_LEVEL", "debug")
    fresh = argparse.ArgumentParser()
    add_operator_flags(fresh)
    assert _level(fresh.parse_args([])) == "debug"


def test_a_text_line_carries_milliseconds() -> None:
    record = logging.LogRecord("lifecycle.operator", logging.INFO, __file__, 1, "hello", None, None)
    record.created, record.msecs = 1_700_000_000.042, 42.0
    assert TextFormatter().format(record).split(" ")[0].endswith(".042")


def test_at_debug_a_request_is_logged_with_its_path_status_and_time_and_never_its_body_or_query(
        caplog: pytest.LogCaptureFixture) -> None:
    from typing import Any

    from lifecycle.k8s.gateway import CONFIG_MAP
    from lifecycle.k8s.kube import KubeGateway

    class Response:
        status, data = 200, b"{}"

        def read(self) -> bytes:
            return self.data

        def release_conn(self) -> None:
            pass

    class Api:  # the ApiServer's one method the gateway calls
        def request(self, *_: Any, **__: Any) -> Response:
            return Response()

    gw = KubeGateway(Api())  # type: ignore[arg-type]
    with caplog.at_level(logging.DEBUG, logger="lifecycle.k8s.kube"):
        gw.patch(CONFIG_MAP, "team", "settings", {"data": {"token": "hunter2"}})
        gw.list(CONFIG_MAP, "team", {"owner": "hunter2"})
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0].startswith("PATCH /api/v1/namespaces/team/configmaps/settings: 200 after ")
    assert lines[1].startswith("GET /api/v1/namespaces/team/configmaps: 200 after ")
    assert not any("hunter2" in line for line in lines)


def test_an_exec_is_logged_by_its_program_and_subcommand_words_only() -> None:
    from lifecycle.k8s.kube import _command_words

    assert _command_words(["alluxio", "fsadmin", "report", "capacity"]) == "alluxio fsadmin report capacity"
    assert _command_words(["/opt/alluxio/bin/alluxio", "fs", "mount", "/data", "https://u:hunter2@x"]) \
        == "alluxio fs mount"
    assert _command_words(["jindo", "--secret=hunter2"]) == "jindo"
    assert _command_words([]) == ""
