"""Telling a dead lease holder from a slow one, when both ran on this machine.

A lease normally passes on only once it has lapsed, because a holder that stopped renewing may merely be
paused or cut off from the database, still acting (a gateway's RTMS sockets open, say). A holder whose
process no longer exists is different: the kernel closed its sockets when it died and nothing can act in
its name any more, so waiting out its lease only loses time. A process that crashed and was restarted by
its supervisor (systemd, a container runtime), or a standby beside it, can therefore take its leases at
once instead of a TTL later (``rtms.leases.lease_acquire``, ``rtms.gateway.runner``).

That proof is only possible for a process this one can see, so every lease owner ends with the holder's
identity (``rtms.leases.lease_owner``): ``host:pid:...:<boot id>.<pid namespace>.<uid>.<start time>``.
Another host, boot, PID namespace (a sibling container) or user cannot be judged and keeps the TTL rule; so
does a process that exists with the same start time (paused by SIGSTOP, say). A pid reused by a newer
process has another start time.
"""

from __future__ import annotations

import os
import socket
from functools import cache
from pathlib import Path

PROC = Path("/proc")


def process_identity() -> str:
    """``<boot id>.<pid namespace>.<uid>.<start time>`` of this process, or "" where /proc cannot tell."""
    # Looked up by pid: a forked child (a Celery pool process) must not inherit its parent's identity.
    return _identity(os.getpid())


@cache
def _identity(pid: int) -> str:
    try:
        boot = (PROC / "sys/kernel/random/boot_id").read_text().strip().replace("-", "")[:12]
        namespace = os.stat(PROC / str(pid) / "ns/pid").st_ino
        start, _state = _start_and_state(pid)
    except (OSError, ValueError, IndexError):
        return ""
    # The uid too: /proc mounted with hidepid hides other users' processes, which must not pass for gone.
    return f"{boot}.{namespace}.{os.stat(PROC / str(pid)).st_uid}.{start}"


def _start_and_state(pid: int) -> tuple[str, str]:
    """The start time (clock ticks after boot) and state letter of ``pid``, from /proc/<pid>/stat. The
    command name (field 2) may hold spaces and parentheses: the fields are counted after its last ')'."""
    stat = (PROC / str(pid) / "stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return fields[19], fields[0]  # fields 22 and 3 of proc(5), counted from field 3


def holder_dead(owner: str) -> bool:
    """True only if ``owner`` (as ``rtms.leases.lease_owner`` writes it) names a process of this host, boot,
    PID namespace and user that no longer exists, has exited (a zombie), or whose pid now belongs to a newer
    process. Anything else, malformed owners included, is not proof: False."""
    parts = owner.split(":")
    if len(parts) < 3 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return False
    boot_ns_uid, _, start = parts[-1].rpartition(".")
    mine = process_identity()
    if not mine or not boot_ns_uid or boot_ns_uid != mine.rpartition(".")[0]:
        return False
    try:
        now_start, state = _start_and_state(int(parts[1]))
    except FileNotFoundError:
        return True  # no such process in this namespace
    except (OSError, ValueError, IndexError):
        return False
    return now_start != start or state in ("Z", "X")
