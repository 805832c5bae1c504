"""Hosts shared by the checks of one run (this process is the judge: it imports no candidate code).

Starting a host costs an interpreter and an ``asyncio`` import, several times what a check of
this challenge spends driving it, so the checks share one candidate host and one starter host
per run (the design's "fresh uid per run") instead of the plugin's fresh pair per check: the
``candidate`` and ``starter`` fixtures below override the plugin's. Every
check builds its own decorated functions, providers, sleeps and random sources, so nothing but
the imported modules carries over. A host that a check left unhealthy (a call still retrying
after its time, a loop that no longer answers, a host that went away) is closed and the next
check gets a fresh one.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import retry_driver
from faultline_harness.judge import Control, HostClient, HostFailure

HEALTH_SECONDS = 2.0


class HostPool:
    def __init__(self) -> None:
        self.clients: dict[str, HostClient] = {}

    def get(self, subject: str) -> HostClient:
        client = self.clients.get(subject)
        if client is None:
            control = Control.from_environment()
            if control is None:
                pytest.skip("no harness control channel (FAULTLINE_CONTROL_FD unset)")
            client = self.clients[subject] = control.spawn(subject)
        return client

    def check(self, subject: str) -> None:
        """After a check: keep the host only if nothing is left running and it still answers."""
        client = self.clients.get(subject)
        if client is None:
            return
        healthy = not retry_driver.is_tainted(client)
        if healthy:
            try:
                client.ping_loop(timeout=HEALTH_SECONDS)
            except HostFailure:
                healthy = False
        if not healthy:
            self.retire(subject)

    def retire(self, subject: str) -> None:
        client = self.clients.pop(subject, None)
        if client is not None:
            client.close()

    def close(self) -> None:
        for subject in list(self.clients):
            self.retire(subject)


@pytest.fixture(scope="session")
def host_pool() -> Iterator[HostPool]:
    pool = HostPool()
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture
def candidate(host_pool: HostPool) -> Iterator[HostClient]:
    """The run's candidate host (the submitted code), shared with the other checks: this
    overrides the plugin's fixture of the same name, which starts a fresh host per check."""
    yield host_pool.get("candidate")
    host_pool.check("candidate")


@pytest.fixture
def starter(host_pool: HostPool) -> Iterator[HostClient]:
    """The run's starter host (the unmodified starter: the same-run baseline), shared with the
    other checks; overrides the plugin's fixture likewise."""
    yield host_pool.get("starter")
    host_pool.check("starter")
