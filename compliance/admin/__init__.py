"""The admin compliance staff work in: region-scoped, read-mostly, every disclosure and action audited.

Registered here, above rtms in the layers, because its actions call compliance services (erasure, export,
the audit CSV): ``meetings`` holds the meetings, streams, inbox, transcripts and audit log;
``retention`` the retention policies and erasure tombstones.
"""

from compliance.admin import meetings, retention  # noqa: F401  (importing registers the ModelAdmins)
