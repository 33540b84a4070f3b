"""A lease holder is proven dead only when it was a process of this machine, boot and PID namespace that no
longer runs; anything else keeps the lease TTL rule (rtms/liveness.py)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from rtms.liveness import _identity, holder_dead, process_identity

HOST = socket.gethostname()


def _owner(pid: int, identity: str | None = None) -> str:
    return f"{HOST}:{pid}:tag12345:{_identity(pid) if identity is None else identity}"


@pytest.fixture
def child() -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def test_this_process_has_an_identity_and_is_alive() -> None:
    assert process_identity().count(".") == 3
    assert not holder_dead(_owner(os.getpid()))


def test_a_process_that_exited_is_dead(child: subprocess.Popen[bytes]) -> None:
    owner = _owner(child.pid)
    assert not holder_dead(owner)
    child.kill()
    child.wait()
    assert holder_dead(owner)


def test_a_killed_process_not_yet_reaped_is_dead(child: subprocess.Popen[bytes]) -> None:
    owner = _owner(child.pid)
    child.send_signal(signal.SIGKILL)
    os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # exited, still a zombie: its sockets are closed
    assert holder_dead(owner)


def test_a_paused_process_is_not_dead(child: subprocess.Popen[bytes]) -> None:
    owner = _owner(child.pid)
    child.send_signal(signal.SIGSTOP)
    try:
        assert not holder_dead(owner)  # its sockets are open: only its lease running out frees the stream
    finally:
        child.send_signal(signal.SIGCONT)


def test_a_pid_now_held_by_a_newer_process_is_dead() -> None:
    boot_ns, _, start = process_identity().rpartition(".")
    assert holder_dead(_owner(os.getpid(), f"{boot_ns}.{int(start) - 1}"))


@pytest.mark.parametrize(
    "owner",
    [
        "other-host:999999:tag:{ident}",  # another machine: nothing here can tell
        f"{HOST}:999999:tag:000000000000.1.0.1",  # another boot or PID namespace (a sibling container)
        "{host}:999999:tag:{other_uid}",  # another user: /proc may hide its processes (hidepid)
        f"{HOST}:999999:tag:",  # a holder that could not name itself
        f"{HOST}:999999:tag",  # the owner format of other leases
        f"{HOST}:notapid:tag:{{ident}}",
        "",
    ],
)
def test_what_cannot_be_proven_is_not_dead(owner: str) -> None:
    boot, namespace, uid, start = process_identity().split(".")
    other_uid = f"{boot}.{namespace}.{int(uid) + 1}.{start}"
    assert not holder_dead(owner.format(ident=process_identity(), host=HOST, other_uid=other_uid))


def test_a_forked_child_has_an_identity_of_its_own() -> None:
    """A Celery pool process is a fork: with its parent's identity it would be taken for dead."""
    parent = process_identity()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report and leave at once, without pytest's clean-up
        os.write(write, process_identity().encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(read, 200).decode()
    os.close(read)
    os.close(write)
    assert child.rpartition(".")[0] == parent.rpartition(".")[0]  # same boot and namespace
    assert child != parent
