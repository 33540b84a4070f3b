"""Fixtures the security regression tests share with the integration tests (imported, so pytest sees them
here too)."""

from __future__ import annotations

from tests.integration.conftest import add_segments, eu, make_meeting, make_stream, us
from tests.integration.test_live_consumer import session_cookie

__all__ = ["add_segments", "eu", "make_meeting", "make_stream", "session_cookie", "us"]
