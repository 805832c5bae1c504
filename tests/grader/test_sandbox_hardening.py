"""The Docker sandbox's container really is locked down, and nothing of a run is left behind."""

from __future__ import annotations

import io
import re
import tarfile
import textwrap

import pytest

from grader.grading import grade
from grader.sandbox import DockerSandbox
from grader.sandbox.base import RESULTS_LIMIT_BYTES, SCRATCH_MB
from grader.sandbox.docker import LABEL, _read_results
from grader.spec import Challenge

from .conftest import leftovers

pytestmark = pytest.mark.docker


@pytest.fixture
def created(docker_sandbox: DockerSandbox, trivial_challenge: Challenge, monkeypatch):
    """A sandbox container as the backend creates it (not started), removed afterwards.

    A secret is put in the worker's environment first: it must not reach the container."""
    monkeypatch.setenv("FAULTLINE_TEST_SECRET", "do-not-pass-this-on")
    container = docker_sandbox._create(trivial_challenge.spec.limits, "trivial-sum:hidden")
    container.reload()
    yield container
    container.remove(force=True, v=True)


def test_container_config_is_hardened(created, trivial_challenge):
    limits = trivial_challenge.spec.limits
    host = created.attrs["HostConfig"]
    config = created.attrs["Config"]

    assert host["NetworkMode"] == "none"
    assert set(created.attrs["NetworkSettings"]["Networks"]) == {"none"}
    assert host["ReadonlyRootfs"] is True
    assert host["Privileged"] is False
    assert host["CapDrop"] == ["ALL"]
    assert set(host["CapAdd"]) == {"SETUID", "SETGID", "KILL", "CHOWN"}
    assert "no-new-privileges" in host["SecurityOpt"]
    assert host["Memory"] == host["MemorySwap"] == limits.memory_mb * 1024 * 1024
    assert host["PidsLimit"] == limits.pids
    assert host["NanoCpus"] == int(limits.cpus * 1_000_000_000) > 0
    assert host["ShmSize"] == 16 * 1024 * 1024
    tmp = host["Tmpfs"]["/tmp"].split(",")
    assert f"size={SCRATCH_MB}m" in tmp
    assert {"nosuid", "nodev"} <= set(tmp)
    assert host["LogConfig"] == {
        "Type": "json-file",
        "Config": {"max-size": "256k", "max-file": "1"},
    }
    assert not host["Binds"]
    assert not host["Devices"]
    assert host["PidMode"] in ("", "private")
    assert host["IpcMode"] == "private"
    assert host["UsernsMode"] == ""  # no user namespace: hence a fresh candidate uid per run
    assert [
        (m["Type"], m["Destination"])
        for m in sorted(created.attrs["Mounts"], key=lambda m: m["Destination"])
    ] == [("volume", "/job"), ("volume", "/results")]

    env = dict(item.split("=", 1) for item in config["Env"])
    assert set(env) == {"PATH", "PYTHONPATH"}
    assert "do-not-pass-this-on" not in str(created.attrs)
    assert config["User"] == "0:0"  # the harness; it runs the tests as an unprivileged uid
    uid, gid = config["Cmd"][config["Cmd"].index("--as-user") + 1].split(":")
    assert int(uid) == int(gid) >= 100_000
    assert config["Labels"][LABEL] == "1"


PROBE = textwrap.dedent("""
    import os
    import resource

    def total(items):
        status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
        facts = [
            f"uid={os.getuid()}/{os.geteuid()}", f"gid={os.getgid()}", f"groups={os.getgroups()}",
            f"CapEff={status['CapEff'].strip()}", f"CapPrm={status['CapPrm'].strip()}",
            f"NoNewPrivs={status['NoNewPrivs'].strip()}", f"Seccomp={status['Seccomp'].strip()}",
            f"nofile={resource.getrlimit(resource.RLIMIT_NOFILE)[0]}",
            f"fsize={resource.getrlimit(resource.RLIMIT_FSIZE)[0]}",
            f"core={resource.getrlimit(resource.RLIMIT_CORE)[0]}",
            f"interfaces={sorted(name for _, name in __import__('socket').if_nameindex())}",
        ]
        raise AssertionError(" ".join(facts))
""")


def test_candidate_code_runs_unprivileged(docker_sandbox, trivial_challenge):
    """What the candidate's code sees from inside: its own unprivileged uid, no capabilities,
    no new privileges, seccomp on, resource limits set, only a loopback interface."""
    report = grade(trivial_challenge, {"calc.py": PROBE}, docker_sandbox)
    assert report["status"] == "graded" and report["score"] == 0
    facts = report["checks"][0]["message"]
    for fact in (
        "groups=[]",
        "CapEff=0000000000000000",
        "CapPrm=0000000000000000",
        "NoNewPrivs=1",
        "Seccomp=2",
        "nofile=512",
        "fsize=67108864",
        "core=0",
        "interfaces=['lo']",
    ):
        assert fact in facts, facts
    ids = re.search(r"uid=(\d+)/(\d+) gid=(\d+)", facts)
    assert ids and len(set(ids.groups())) == 1 and int(ids.group(1)) >= 100_000, facts


def test_nothing_is_left_after_grades(docker_sandbox, trivial_challenge):
    client = docker_sandbox.client
    volumes_before = {v.name for v in client.volumes.list()}
    for files in (
        dict(trivial_challenge.solution),
        {"calc.py": "import os\nos._exit(3)\n"},
        {"calc.py": "raise SystemExit(1)\n"},
    ):
        grade(trivial_challenge, files, docker_sandbox)
        assert leftovers(client, volumes_before) == ([], set())


def _put(container, path: str, entry: tarfile.TarInfo, data: bytes = b"") -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        archive.addfile(entry, io.BytesIO(data) if data else None)
    container.put_archive(path, buffer.getvalue())


def test_results_read_back_refuses_a_missing_record_and_a_link(created):
    """The worker reads /results/results.json without following links: fail closed."""
    assert _read_results(created) == (None, "the run left no result record")

    link = tarfile.TarInfo("results.json")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    _put(created, "/results", link)
    raw, problem = _read_results(created)
    assert raw is None and "link" in problem


def test_results_read_back_takes_only_a_small_plain_file(docker_sandbox, trivial_challenge):
    limits = trivial_challenge.spec.limits
    for kind in ("plain", "directory", "oversized"):
        container = docker_sandbox._create(limits, "trivial-sum:hidden")
        try:
            entry = tarfile.TarInfo("results.json")
            data = b""
            if kind == "plain":
                data = b'{"harness_version": "1"}'
                entry.size = len(data)
                _put(container, "/results", entry, data)
                assert _read_results(container) == (data, None)
                continue
            if kind == "directory":
                entry.type = tarfile.DIRTYPE
                _put(container, "/results", entry)
                inner = tarfile.TarInfo("results.json/x")
                payload = b"{}"
                inner.size = len(payload)
                _put(container, "/results", inner, payload)
            else:
                data = b" " * (RESULTS_LIMIT_BYTES + 1)
                entry.size = len(data)
                _put(container, "/results", entry, data)
            raw, problem = _read_results(container)
            assert raw is None, kind
            assert ("not a plain file" if kind == "directory" else "larger than allowed") in problem
        finally:
            container.remove(force=True, v=True)
