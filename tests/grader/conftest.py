"""Helpers for the sandbox tests."""

from __future__ import annotations

from grader.sandbox.docker import LABEL

FIXTURE_LABEL = "faultline.label=trivial-sum:hidden"


def leftovers(client, volumes_before: set[str]) -> tuple[list, set[str]]:
    """Sandbox containers of the fixture challenge, and new volumes no container uses.

    Scoped to the fixture challenge so other grades on the same engine (a developer verifying
    a challenge meanwhile) are not mistaken for leftovers of these tests.
    """
    volumes = {v.name for v in client.volumes.list()} - volumes_before
    containers = client.containers.list(all=True, filters={"label": [LABEL, FIXTURE_LABEL]})
    in_use = {
        mount.get("Name")
        for container in client.containers.list(all=True)
        for mount in container.attrs.get("Mounts", [])
    }
    return containers, volumes - in_use


def orphaned_candidate_processes(client) -> list[int]:
    """Host processes running as a candidate uid whose container no longer exists: code that
    escaped its sandbox's lifetime. Processes of other live grades are not counted."""
    from pathlib import Path

    from grader.sandbox.docker import CANDIDATE_UIDS

    live = {container.id for container in client.containers.list(all=True)}
    orphans = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            cgroup = (entry / "cgroup").read_text()
        except OSError:
            continue
        uid = next(
            (int(line.split()[1]) for line in status.splitlines() if line.startswith("Uid:")), -1
        )
        if uid not in CANDIDATE_UIDS:
            continue
        if not any(container_id in cgroup for container_id in live):
            orphans.append(int(entry.name))
    return orphans
