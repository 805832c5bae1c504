"""Hidden-check fixtures (this process is the judge: it imports no candidate code).

Every check gets a fresh candidate host of its own, and new folders under /tmp for its
databases. A host spends a third of a second or more importing SQLAlchemy, so the session
prepares the next checks' hosts ahead (spawned, the platform's libraries imported, no code of
the subject's run) while the checks before them run. The starter's baseline (the race checks'
same-run evidence that the bug shows) is measured once per session, in a starter host of its
own.
"""

from __future__ import annotations

import shutil
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest
from faultline_harness.judge import Control, HostClient
from hidden_support import prepare, shared_folder

RACE_MODULE = "test_race.py"
AHEAD = 2  # hosts being prepared ahead of the checks that will take them


class HostPool:
    """Fresh hosts in the order the session's checks take them, prepared ``AHEAD`` at a time.

    A host is handed to one check only, and closed when that check ends; one prepared but not
    taken is closed with the session.
    """

    def __init__(self, control: Control, plan: list[str]) -> None:
        self.control = control
        self.plan = deque(plan)
        self.executor = ThreadPoolExecutor(AHEAD, thread_name_prefix="next-host")
        self.ready: deque[tuple[str, Future]] = deque()
        self.opened: list[HostClient] = []
        self._advance()

    def take(self, subject: str) -> HostClient:
        if self.ready and self.ready[0][0] == subject:
            host = self.ready.popleft()[1].result()
        else:
            host = prepare(self._spawn(subject))
        self._advance()
        return host

    def _advance(self) -> None:
        while len(self.ready) < AHEAD and self.plan:
            subject = self.plan.popleft()
            self.ready.append((subject, self.executor.submit(self._prepared, subject)))

    def _prepared(self, subject: str) -> HostClient:
        return prepare(self._spawn(subject))

    def _spawn(self, subject: str) -> HostClient:
        host = self.control.spawn(subject)
        self.opened.append(host)
        return host

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)
        for host in self.opened:
            host.close()


def _plan(items: list[pytest.Item]) -> list[str]:
    """The hosts the checks will take, in order: the starter first with the first race check."""
    plan: list[str] = []
    for item in items:
        if item.nodeid.split("::")[0].endswith(RACE_MODULE) and "starter" not in plan:
            plan.append("starter")
        plan.append("candidate")
    return plan


@pytest.fixture(scope="session")
def pool(request: pytest.FixtureRequest) -> Iterator[HostPool]:
    control = Control.from_environment()
    if control is None:
        pytest.skip("no harness control channel (FAULTLINE_CONTROL_FD unset)")
    hosts = HostPool(control, _plan(request.session.items))
    try:
        yield hosts
    finally:
        hosts.close()


@pytest.fixture
def candidate(pool: HostPool) -> Iterator[HostClient]:
    """A fresh candidate host for this check alone, closed when the check ends."""
    host = pool.take("candidate")
    try:
        yield host
    finally:
        host.close()


@pytest.fixture
def folders() -> Iterator[Callable[[], Path]]:
    """``folders()``: a new folder a host can create its database in."""
    made: list[Path] = []

    def make() -> Path:
        made.append(shared_folder())
        return made[-1]

    yield make
    for folder in made:
        shutil.rmtree(folder, ignore_errors=True)
