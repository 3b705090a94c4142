"""Counts the exhaustive tests report (the bad-manifest battery, the perturbation runs, ...),
printed at the end of the run by tests/conftest.py."""

from collections import Counter

TALLY: Counter[str] = Counter()
