"""Hypothesis, used by test_protocol_properties.py, writes caches (Unicode tables, constants it finds in
our modules) under ./.hypothesis even with database=None, and does so while collecting tests, before
any fixture runs. Point it at the temporary directory instead, unless the caller chose a place."""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault(
    "HYPOTHESIS_STORAGE_DIRECTORY", os.path.join(tempfile.gettempdir(), "hypothesis-rtms-zoom")
)
