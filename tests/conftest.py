"""Test-wide settings: hypothesis profiles (``HYPOTHESIS_PROFILE=deep`` for a long search), and the
bad-manifest battery's counts printed at the end of a run that exercised it."""

import os

import pytest
from hypothesis import settings

from tests.battery import TALLY

settings.register_profile("default", max_examples=120)
settings.register_profile("deep", max_examples=2000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TALLY:
        terminalreporter.write_sep("-", "bad-manifest battery")
        for key in sorted(TALLY):
            terminalreporter.write_line(f"{key}: {TALLY[key]}")
