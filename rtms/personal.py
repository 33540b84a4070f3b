"""A meeting's personal details: the topic and the host's e-mail live in the region's database
(``MeetingDetails``); the control database keeps only the e-mail's domain (a residency fact) and a keyed
hash of it, so that an exact e-mail search works without the e-mail (issue #19).

The hash is HMAC-SHA256 under ``PERSONAL_DATA_HASH_KEY`` (not ``SECRET_KEY``) of the trimmed, lower-cased
address. While a key is rotated, ``PERSONAL_DATA_HASH_KEY_PREVIOUS`` is searched too, and
``manage.py move_to_regions --rehash`` recomputes the stored hashes from the regions' copies.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import defaultdict
from collections.abc import Iterable

from django.conf import settings
from django.db.models import QuerySet

from regions.storage import content_alias
from rtms.models import Meeting, MeetingDetails


def _normalised(email: str) -> str:
    return email.strip().lower()


def email_hash(email: str, *, key: str | None = None) -> str:
    """The keyed hash stored in ``Meeting.host_email_hash``; "" for no e-mail."""
    if not email.strip():
        return ""
    secret = (key if key is not None else settings.PERSONAL_DATA_HASH_KEY).encode()
    return hmac.new(secret, _normalised(email).encode(), hashlib.sha256).hexdigest()


def email_hashes_to_search(email: str) -> list[str]:
    """The current key's hash, and the previous key's while a rotation is under way."""
    hashes = [email_hash(email)]
    if settings.PERSONAL_DATA_HASH_KEY_PREVIOUS:
        hashes.append(email_hash(email, key=settings.PERSONAL_DATA_HASH_KEY_PREVIOUS))
    return [h for h in hashes if h]


def email_domain(email: str) -> str:
    """The part after the last "@", lower-cased: what residency rules match on."""
    local, at, domain = _normalised(email).rpartition("@")
    return domain[:255] if at and local and domain else ""


def control_email_fields(email: str | None) -> dict[str, str]:
    """What the control row stores of an e-mail."""
    if not email:
        return {}
    return {"host_email_hash": email_hash(email), "host_email_domain": email_domain(email)}


def details_save(meeting: Meeting, *, topic: str | None = None, host_email: str | None = None) -> None:
    """Record what an event says of the meeting: the text in its region, the hash and domain in control.
    Called by the region's own worker (rtms/inbox/apply.py). A meeting without a region keeps no text."""
    control = control_email_fields(host_email)
    if control:
        Meeting.objects.filter(pk=meeting.pk).update(**control)
    if meeting.region is None:
        return
    text = {k: v for k, v in (("topic", topic), ("host_email", host_email)) if v}
    if not text:
        return
    code = meeting.region.code
    MeetingDetails.objects.using(content_alias(code)).update_or_create(
        meeting_id=meeting.pk, defaults={"region_code": code, **text}
    )


def details_of(meeting: Meeting) -> MeetingDetails | None:
    if meeting.region is None:
        return None
    return (
        MeetingDetails.objects.using(content_alias(meeting.region.code)).filter(meeting_id=meeting.pk).first()
    )


def details_for(meetings: Iterable[Meeting]) -> dict[int, MeetingDetails]:
    """The details of many meetings: one query per region among them."""
    by_region: dict[str, list[int]] = defaultdict(list)
    for meeting in meetings:
        if meeting.region is not None:
            by_region[meeting.region.code].append(meeting.pk)
    found: dict[int, MeetingDetails] = {}
    for code, pks in by_region.items():
        for details in MeetingDetails.objects.using(content_alias(code)).filter(meeting_id__in=pks):
            found[details.meeting_id] = details
    return found


def meetings_with_topic(region_codes: Iterable[str], text: str) -> list[int]:
    """Ids of meetings whose topic contains ``text``, searched inside each region's database."""
    ids: list[int] = []
    for code in region_codes:
        ids += (
            MeetingDetails.objects.using(content_alias(code))
            .filter(region_code=code, topic__icontains=text)
            .values_list("meeting_id", flat=True)
        )
    return ids


def legacy_details_in_control() -> QuerySet[Meeting]:
    """Meetings whose topic or e-mail is still in the control database (written before issue #19)."""
    return Meeting.objects.exclude(legacy_topic="", legacy_host_email="")


def move_legacy_details(*, batch: int = 500) -> int:
    """Move one batch of legacy topics and e-mails to the meetings' regions (a quarantined meeting keeps
    only the e-mail's hash and domain); returns how many meetings were done (0: none left). The region copy
    is written before the control copy is blanked, so an interrupted run loses nothing."""
    meetings = list(legacy_details_in_control().select_related("region").order_by("pk")[:batch])
    for meeting in meetings:
        details_save(meeting, topic=meeting.legacy_topic, host_email=meeting.legacy_host_email)
        Meeting.objects.filter(pk=meeting.pk).update(legacy_topic="", legacy_host_email="")
    return len(meetings)


def rehash_emails(region_codes: Iterable[str], *, batch: int = 500) -> int:
    """Recompute the stored e-mail hashes under the current key from the regions' copies (a key rotation,
    docs/configuration.md); returns how many meetings changed."""
    changed = 0
    for code in region_codes:
        details = (
            MeetingDetails.objects.using(content_alias(code)).filter(region_code=code).exclude(host_email="")
        )
        last = 0
        while True:
            chunk = list(
                details.filter(pk__gt=last)
                .order_by("pk")
                .values_list("pk", "meeting_id", "host_email")[:batch]
            )
            if not chunk:
                break
            last = chunk[-1][0]
            for _pk, meeting_id, host_email in chunk:
                fresh = email_hash(host_email)
                changed += (
                    Meeting.objects.filter(pk=meeting_id)
                    .exclude(host_email_hash=fresh)
                    .update(host_email_hash=fresh)
                )
    return changed
