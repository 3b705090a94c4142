"""Test-wide settings: hypothesis profiles (``HYPOTHESIS_PROFILE=deep`` for a long search)."""

import os

from hypothesis import settings

settings.register_profile("default", max_examples=120)
settings.register_profile("deep", max_examples=2000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
