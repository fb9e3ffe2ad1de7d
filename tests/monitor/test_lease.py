"""One daemon per database: the lease lives in the database (SQLite and PostgreSQL)."""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

import pytest

from monitor.lease import DatabaseLease, LeaseHeld


@pytest.fixture
def leases(sessions, clock):
    def make(pid: int, host: str = "this-host") -> DatabaseLease:
        return DatabaseLease(sessions, clock, pid=pid, host=host)

    return make


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_second_daemon_is_refused_and_told_who_holds_the_database(leases):
    leases(os.getpid(), "server-a").acquire()

    with pytest.raises(LeaseHeld) as refused:
        leases(4242, "server-b").acquire()

    assert f"pid {os.getpid()} on host server-a" in str(refused.value)
    assert "--force" in str(refused.value)


def test_force_takes_the_lease_and_the_first_daemon_learns_it_has_lost_it(leases):
    first = leases(os.getpid(), "server-a")
    first.acquire()
    second = leases(4242, "server-b")

    second.acquire(force=True)

    assert not first.renew() and "pid 4242 on host server-b" in first.taken_by
    assert second.renew()


def test_a_lease_whose_holder_stopped_heartbeating_expires(leases, clock):
    leases(os.getpid(), "server-a").acquire()
    clock.advance(minutes=2)

    leases(4242, "server-b").acquire()  # no error


def test_a_holder_that_died_on_this_host_does_not_block_a_restart(leases):
    leases(dead_pid(), "this-host").acquire()

    leases(os.getpid(), "this-host").acquire()  # no error, no waiting for the lease to expire


def test_a_released_lease_lets_the_next_daemon_start(leases):
    first = leases(os.getpid(), "server-a")
    first.acquire()
    first.release()

    leases(4242, "server-b").acquire()


def test_a_heartbeat_keeps_the_lease_past_its_first_expiry(leases, clock):
    first = leases(os.getpid(), "server-a")
    first.acquire()
    for _ in range(5):
        clock.advance(seconds=30)
        assert first.renew()
    with pytest.raises(LeaseHeld):
        leases(4242, "server-b").acquire()
