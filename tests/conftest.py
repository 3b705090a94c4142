"""Test-wide settings: hypothesis profiles (``HYPOTHESIS_PROFILE=deep`` for a long search), and the
counts of the exhaustive tests (tests/tally.py) printed at the end of a run that exercised them,
summed over the workers when pytest-xdist spreads the run (``make test-fast``)."""

import os

import pytest
from hypothesis import settings

from tests.tally import TALLY

settings.register_profile("default", max_examples=120)
settings.register_profile("deep", max_examples=2000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TALLY:
        terminalreporter.write_sep("-", "counts of this run")
        for key in sorted(TALLY):
            terminalreporter.write_line(f"{key}: {TALLY[key]}")


def pytest_sessionfinish(session: pytest.Session) -> None:
    output = getattr(session.config, "workeroutput", None)  # set on an xdist worker only
    if output is not None:
        output["tally"] = dict(TALLY)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: object, error: object) -> None:
    TALLY.update(getattr(node, "workeroutput", {}).get("tally", {}))
