"""Hostile submissions, graded in the real Docker sandbox (no mocks).

Each submission replaces the trivial-sum challenge's editable ``calc.py``. Every grade must come
back within the wall limit plus a few seconds, score 0, carry a status that says what happened,
stay under 1 MB as JSON, leave no container or volume behind and leave the engine usable.

Where an attack would reveal itself by succeeding, ``total`` returns the right sum only if it
did succeed (a connection was made, a secret was read, a forbidden write went through...), so a
passing check would expose the breach; otherwise it fails with a message saying what it tried.
The reference solution is graded first as a control, so a score of 0 means something.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import textwrap
import time

import pytest

from grader.grading import grade
from grader.sandbox import DockerSandbox
from grader.spec import Challenge

from .conftest import leftovers, orphaned_candidate_processes

pytestmark = pytest.mark.docker

WALL_SECONDS = 8
CHECK_TIMEOUT_SECONDS = 4
MARGIN_SECONDS = 4  # container start, the harness's kill and reap, result read-back, removal
REPORT_LIMIT = 1_000_000
# A documentation address (TEST-NET-2, RFC 5737): public in form, never routed, so even a broken
# sandbox could not send traffic to anyone's server.
PUBLIC_ADDRESS = "198.51.100.1"


def _short_limits(challenge: Challenge) -> Challenge:
    spec = challenge.spec
    limits = spec.limits.model_copy(update={"wall_seconds": WALL_SECONDS})
    checks = [c.model_copy(update={"timeout_seconds": CHECK_TIMEOUT_SECONDS}) for c in spec.checks]
    spec = spec.model_copy(update={"limits": limits, "checks": checks})
    return dataclasses.replace(challenge, spec=spec)


@pytest.fixture(scope="module")
def challenge(in_process_trivial_challenge: Challenge) -> Challenge:
    """trivial-sum graded in-process, with short limits: wall 8 s, 4 s per check. These attacks
    test the sandbox and the in-process protocol's defences; test_forgery.py attacks judged
    grading."""
    return _short_limits(in_process_trivial_challenge)


@pytest.fixture(scope="module")
def judged(trivial_challenge: Challenge) -> Challenge:
    """trivial-sum as shipped (judged grading), with the same short limits."""
    return _short_limits(trivial_challenge)


def _grade_hostile(challenge: Challenge, sandbox: DockerSandbox, source: str) -> dict:
    """Grade ``source`` as calc.py and check what every hostile grade must satisfy."""
    client = sandbox.client
    volumes_before = {v.name for v in client.volumes.list()}
    started = time.monotonic()
    report = grade(challenge, {"calc.py": textwrap.dedent(source)}, sandbox)
    elapsed = time.monotonic() - started

    assert elapsed < WALL_SECONDS + MARGIN_SECONDS, f"took {elapsed:.1f} s: {report['status']}"
    assert len(json.dumps(report)) < REPORT_LIMIT
    assert report["score"] == 0, report["status_detail"]
    assert not any(check["passed"] for check in report["checks"]), report["checks"]
    assert report["sandbox"] == {"backend": "docker", "image": sandbox.image, "isolated": True}
    assert leftovers(client, volumes_before) == ([], set())
    assert sandbox.unavailable_reason() is None  # the engine still answers
    report["_elapsed"] = elapsed
    return report


def _outcomes(report: dict) -> list[str]:
    return [check["outcome"] for check in report["checks"]]


def test_reference_solution_scores_full_marks(challenge, docker_sandbox):
    """Control: with the same limits the reference solution passes, so a 0 below is earned."""
    report = grade(challenge, dict(challenge.solution), docker_sandbox)
    assert report["status"] == "graded"
    assert report["score"] == report["max_score"] == 4
    assert report["flags"] == []


# Resource exhaustion ---------------------------------------------------------------------------


def test_fork_bomb(challenge, docker_sandbox):
    """timeout: the pids limit stops the forking, the check never returns; the harness kills
    every process at the check's limit, retries the other check, which runs into the deadline."""
    report = _grade_hostile(
        challenge,
        docker_sandbox,
        """
        import os

        def total(items):
            while True:
                try:
                    os.fork()
                except OSError:
                    pass
    """,
    )
    assert report["status"] == "timeout"
    assert _outcomes(report)[0] == "timeout"
    assert set(_outcomes(report)) <= {"timeout", "missing"}
    assert orphaned_candidate_processes(docker_sandbox.client) == []  # nothing escaped


def test_memory_bomb(challenge, docker_sandbox):
    """oom: the kernel kills the test process at the memory limit (fast, not at the deadline);
    the harness sees the cgroup's OOM kill and every check crashed."""
    report = _grade_hostile(
        challenge,
        docker_sandbox,
        """
        hog = []

        def total(items):
            while True:
                hog.append(bytearray(16 * 1024 * 1024))
    """,
    )
    assert report["status"] == "oom"
    assert set(_outcomes(report)) <= {"crashed", "missing"}
    assert report["_elapsed"] < WALL_SECONDS


def test_busy_loop(challenge, docker_sandbox):
    """timeout: each check is stopped at its own limit, the second one at the run's deadline."""
    report = _grade_hostile(
        challenge,
        docker_sandbox,
        """
        def total(items):
            while True:
                pass
    """,
    )
    assert report["status"] == "timeout"
    assert _outcomes(report)[0] == "timeout"
    assert set(_outcomes(report)) <= {"timeout", "missing"}
    assert "check limit 4 s" in report["checks"][0]["message"]


def test_endless_sleep_at_import(challenge, docker_sandbox):
    """timeout: collection never finishes, so no check starts; the run hits its deadline.
    (Before the harness fix this was reported as ``error``.)"""
    report = _grade_hostile(
        challenge,
        docker_sandbox,
        """
        import time

        time.sleep(10**6)

        def total(items):
            return sum(items)
    """,
    )
    assert report["status"] == "timeout"
    assert _outcomes(report) == ["missing", "missing"]
    assert "time limit" in report["checks"][0]["message"]


def test_process_ignoring_sigterm(challenge, docker_sandbox):
    """timeout: SIGTERM, SIGINT and SIGHUP are ignored and a child escapes into its own session;
    the harness uses SIGKILL on every process, so the sleepers die and nothing is left."""
    report = _grade_hostile(
        challenge,
        docker_sandbox,
        """
        import os
        import signal
        import time

        for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(number, signal.SIG_IGN)
        if os.fork() == 0:
            os.setsid()
            while True:
                time.sleep(1000)

        def total(items):
            while True:
                time.sleep(1000)
    """,
    )
    assert report["status"] == "timeout"
    assert _outcomes(report)[0] == "timeout"
    assert orphaned_candidate_processes(docker_sandbox.client) == []


def test_two_gigabyte_stdout_flood(challenge, docker_sandbox):
    """graded, checks crashed: 2 GiB of output, binary junk to the real stdout behind pytest's
    capture and text to the captured one. The file size limit stops both at 64 MiB, the test
    process dies of it, and the report keeps 256 KiB of output, even of binary (which JSON
    escapes up to six-fold: before the harness fix this report was 1.5 MB)."""
    report = _grade_hostile(
        challenge,
        docker_sandbox,
        """
        import os
        import sys

        BINARY = b"\\x01\\xff" * (1 << 19)
        TEXT = "x" * (1 << 20)

        def total(items):
            for fd in os.listdir("/proc/self/fd"):
                try:
                    target = os.readlink(f"/proc/self/fd/{fd}")
                except OSError:
                    continue
                if target.endswith(".log"):
                    for _ in range(2048):
                        try:
                            os.write(int(fd), BINARY)
                        except OSError:
                            pass
            for _ in range(2048):
                try:
                    sys.stdout.write(TEXT)
                except OSError:
                    pass
            return None
    """,
    )
    assert report["status"] == "graded"
    assert set(_outcomes(report)) <= {"failed", "crashed"}
    assert report["output_truncated"] is True
    assert len(json.dumps(report["output"])) <= 256 * 1024 + 2


def test_disk_filler(challenge, docker_sandbox):
    """graded, all failed: /tmp (64 MiB) and /dev/shm (16 MiB) are capped tmpfs, the job, results,
    cwd and the root filesystem refuse writes. ``total`` would pass had any cap not held."""
    report = _grade_hostile(
        challenge,
        docker_sandbox,
        """
        import os

        CHUNK = b"\\0" * (1 << 20)
        TMPFS = ("/tmp", "/dev/shm")
        OTHERS = (os.getcwd(), "/job", "/job/tests", "/job/starter", "/results", "/", "/var/tmp",
                  "/opt/venv", "/opt/faultline/harness", "/home", "/root", "/run", "/etc")
        written = {}
        report = []

        def fill(directory):
            written[directory] = 0
            for index in range(1000):
                try:
                    with open(os.path.join(directory, f"filler-{index}"), "wb") as handle:
                        for _ in range(256):
                            handle.write(CHUNK)
                            written[directory] += len(CHUNK)
                except OSError as exc:
                    if exc.errno != 27:  # EFBIG: one file at the size limit; take another
                        report.append(f"{directory} {written[directory] >> 20}M {exc.strerror}")
                        return

        def total(items):
            if not written:
                for directory in TMPFS + OTHERS:
                    fill(directory)
            over = [d for d in TMPFS if written[d] > 65 * (1 << 20)]
            if over or any(written[d] for d in OTHERS):
                return sum(items)
            raise AssertionError("; ".join(report))
    """,
    )
    assert report["status"] == "graded"
    assert _outcomes(report) == ["failed", "failed"]
    message = report["checks"][0]["message"]
    assert "/tmp 64M No space left on device" in message
    assert "/dev/shm 16M No space left on device" in message


def test_thread_and_file_descriptor_exhaustion(challenge, docker_sandbox):
    """graded, all failed: threads stop at the process limit and descriptors at 512; the test
    process still reports, and ``total`` would pass had either limit not held."""
    report = _grade_hostile(
        challenge,
        docker_sandbox,
        """
        import os
        import threading
        import time

        threads, fds, errors = [], [], []
        while len(threads) < 10_000:
            try:
                thread = threading.Thread(target=time.sleep, args=(1000,), daemon=True)
                thread.start()
                threads.append(thread)
            except RuntimeError as exc:
                errors.append(str(exc))
                break
        while len(fds) < 100_000:
            try:
                fds.append(os.open("/dev/null", os.O_RDONLY))
            except OSError as exc:
                errors.append(exc.strerror)
                break

        def total(items):
            if len(threads) >= 64 or len(fds) >= 512:
                return sum(items)
            raise AssertionError(f"{len(threads)} threads, {len(fds)} fds: {errors}")
    """,
    )
    assert report["status"] == "graded"
    assert _outcomes(report) == ["failed", "failed"]
    message = report["checks"][0]["message"]
    assert "can't start new thread" in message
    assert "Too many open files" in message


# Escape attempts -------------------------------------------------------------------------------


def _gateway_addresses(sandbox: DockerSandbox) -> list[str]:
    """Docker's gateways (the host as containers see it) and this host's own address."""
    addresses = {"172.17.0.1"}  # the default bridge's gateway, where one exists
    for network in sandbox.client.networks.list():
        for config in (network.attrs.get("IPAM") or {}).get("Config") or []:
            if config.get("Gateway") and ":" not in config["Gateway"]:
                addresses.add(config["Gateway"])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect((PUBLIC_ADDRESS, 9))  # UDP: picks the outgoing address, sends nothing
            addresses.add(probe.getsockname()[0])
        except OSError:
            pass
    return sorted(addresses)


def test_network_connections_fail(challenge, docker_sandbox):
    """graded, all failed: there is no network. Redis and PostgreSQL on the host's loopback, the
    Docker gateway, the host's own address, a public address and the Docker socket are all
    unreachable; ``total`` returns the right sum only if a connection was made."""
    targets = [("127.0.0.1", 6379), ("127.0.0.1", 5432), ("::1", 6379), (PUBLIC_ADDRESS, 443)]
    for address in _gateway_addresses(docker_sandbox):
        targets += [(address, 6379), (address, 5432), (address, 2375)]
    report = _grade_hostile(
        challenge,
        docker_sandbox,
        """
        import socket

        TARGETS = @@TARGETS@@
        connected, errors = [], []
        for host, port in TARGETS:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            try:
                with socket.socket(family, socket.SOCK_STREAM) as connection:
                    connection.settimeout(1.0)
                    connection.connect((host, port))
                connected.append(f"{host}:{port}")
            except OSError as exc:
                errors.append(f"{host}:{port} {exc.strerror or exc}")
        for path in ("/var/run/docker.sock", "/run/docker.sock"):
            try:
                with socket.socket(socket.AF_UNIX) as connection:
                    connection.connect(path)
                connected.append(path)
            except OSError as exc:
                errors.append(f"{path} {exc.strerror}")

        def total(items):
            if connected:
                return sum(items)
            raise AssertionError("no connection: " + "; ".join(errors))
    """.replace("@@TARGETS@@", repr(targets)),
    )
    assert report["status"] == "graded"
    assert _outcomes(report) == ["failed", "failed"]
    assert "no connection: 127.0.0.1:6379 Connection refused" in report["checks"][0]["message"]


def test_environment_secrets_and_host_files_stay_out(
    challenge, docker_sandbox, monkeypatch, tmp_path
):
    """graded, all failed: the worker's environment never reaches the container, and host files,
    /etc/shadow, the harness's environment, the job file and the results are unreadable. The
    module prints and raises everything it finds; the secret appears nowhere in the report."""
    secret = "faultline-test-secret-" + os.urandom(8).hex()
    monkeypatch.setenv("FAULTLINE_TEST_SECRET", secret)
    host_file = tmp_path / "host-secret.txt"
    host_file.write_text(secret)
    report = _grade_hostile(
        challenge,
        docker_sandbox,
        """
        import os

        PROTECTED = ("/etc/shadow", "/proc/1/environ", "/proc/1/mem", "/job/job.json",
                     "/results/results.json", "/results/candidate-output.log",
                     @@HOST_FILE@@, "/proc/1/root" + @@HOST_FILE@@)
        PUBLIC = ("/proc/self/environ", "/proc/1/cmdline", "/etc/hostname", "/etc/passwd")
        found, errors = {}, []
        for path in PROTECTED + PUBLIC:
            try:
                with open(path, "rb") as handle:
                    found[path] = handle.read(8192)
            except OSError as exc:
                errors.append(f"{path}: {exc.strerror}")
        for folder in ("/results", "/proc/1/fd", "/proc/1/cwd", "/run/secrets"):
            try:
                found[folder] = os.listdir(folder)
            except OSError as exc:
                errors.append(f"{folder}: {exc.strerror}")

        def total(items):
            print("ENVIRON", dict(os.environ))
            print("FOUND", found)
            if set(found) - set(PUBLIC) or "FAULTLINE_TEST_SECRET" in os.environ:
                return sum(items)
            raise AssertionError(f"{errors} {dict(os.environ)} {found}")
    """.replace("@@HOST_FILE@@", repr(str(host_file))),
    )
    assert report["status"] == "graded"
    assert _outcomes(report) == ["failed", "failed"]
    assert "/etc/shadow: Permission denied" in report["checks"][0]["message"]
    assert "ENVIRON" in report["output"]  # the printout did reach the report...
    assert secret not in json.dumps(report)  # ...without the secret


# The test process leaving early or attacking the harness ---------------------------------------


def test_os_exit_at_import(challenge, docker_sandbox):
    """error: the test process exits 0 before any test is collected; no check has a result."""
    report = _grade_hostile(
        challenge,
        docker_sandbox,
        """
        import os

        os._exit(0)

        def total(items):
            return sum(items)
    """,
    )
    assert report["status"] == "error"
    assert "exited with code 0" in report["status_detail"]
    assert _outcomes(report) == ["missing", "missing"]


def test_system_exit_at_import(challenge, docker_sandbox):
    """error: SystemExit(0) during collection is a pytest internal error (exit code 3)."""
    report = _grade_hostile(
        challenge,
        docker_sandbox,
        """
        raise SystemExit(0)

        def total(items):
            return sum(items)
    """,
    )
    assert report["status"] == "error"
    assert "exited with code 3" in report["status_detail"]
    assert _outcomes(report) == ["missing", "missing"]


def test_killing_the_harness_is_refused(challenge, docker_sandbox):
    """graded, all failed: the harness is PID 1 and root; SIGKILL to the parent, to PID 1 and
    to -1 (every process the candidate may signal: none but itself) all fail, the harness
    survives and records both checks."""
    report = _grade_hostile(
        challenge,
        docker_sandbox,
        """
        import os
        import signal

        def total(items):
            delivered, refused = [], []
            attempts = (("parent", os.getppid(), signal.SIGKILL), ("pid 1", 1, signal.SIGKILL),
                        ("pid 1 stop", 1, signal.SIGSTOP), ("pid 1 term", 1, signal.SIGTERM),
                        ("kill -1", -1, signal.SIGKILL))
            for label, pid, number in attempts:
                try:
                    os.kill(pid, number)
                    delivered.append(label)
                except OSError as exc:
                    refused.append(f"{label}: {exc.strerror}")
            raise AssertionError(f"ppid {os.getppid()} delivered {delivered} refused {refused}")
    """,
    )
    assert report["status"] == "graded"
    assert _outcomes(report) == ["failed", "failed"]
    message = report["checks"][0]["message"]
    assert "ppid 1 delivered [] refused" in message
    assert "parent: Operation not permitted" in message


def test_kill_minus_one_from_a_child_only_kills_the_candidate(challenge, docker_sandbox):
    """error: a child's ``kill -1`` reaches only the candidate's own processes, so it kills the
    test process during collection; the harness survives and says so."""
    report = _grade_hostile(
        challenge,
        docker_sandbox,
        """
        import os
        import signal
        import time

        if os.fork() == 0:
            try:
                os.kill(-1, signal.SIGKILL)
            finally:
                os._exit(0)
        time.sleep(2)

        def total(items):
            return sum(items)
    """,
    )
    assert report["status"] == "error"
    assert "killed" in report["status_detail"]
    assert _outcomes(report) == ["missing", "missing"]


# Cheating --------------------------------------------------------------------------------------

PYTEST_PATCHES = {
    "TestReport.__init__": (
        """
        import _pytest.reports

        original = _pytest.reports.TestReport.__init__

        def forced(self, *args, **kwargs):
            original(self, *args, **kwargs)
            self.outcome, self.longrepr = "passed", None

        _pytest.reports.TestReport.__init__ = forced
        """,
        "TestReport.__init__ was replaced",
    ),
    "makereport-hookwrapper": (
        """
        import gc

        import _pytest.config
        import pytest

        class Cheat:
            @pytest.hookimpl(hookwrapper=True)
            def pytest_runtest_makereport(self, item, call):
                outcome = yield
                report = outcome.get_result()
                report.outcome, report.longrepr = "passed", None

        for candidate in gc.get_objects():
            if isinstance(candidate, _pytest.config.Config):
                candidate.pluginmanager.register(Cheat(), "cheat")
        """,
        "untrusted pytest_runtest_makereport hook from calc",
    ),
    "Function.runtest": (
        """
        import _pytest.python

        _pytest.python.Function.runtest = lambda self: None
        """,
        "Function.runtest was replaced",
    ),
}


@pytest.mark.parametrize("patch", sorted(PYTEST_PATCHES))
def test_patching_pytest_to_force_passes(challenge, docker_sandbox, patch):
    """graded, all failed and flagged: the plugin sees pytest's machinery replaced (or a pass
    reported for a test that raised) and the harness fails the check."""
    source, flag = PYTEST_PATCHES[patch]
    report = _grade_hostile(
        challenge,
        docker_sandbox,
        textwrap.dedent(source)
        + textwrap.dedent("""
        def total(items):
            return None
    """),
    )
    assert report["status"] == "graded"
    assert _outcomes(report) == ["failed", "failed"]
    assert any(flag in item for item in report["flags"]), report["flags"]


FORGE_AT_IMPORT = """
    import json
    import os

    NODES = ("test_calc.py::test_total_adds_every_item",
             "test_calc.py::test_total_of_nothing_is_zero")
    channel = int(os.environ["FAULTLINE_RESULT_FD"])
    for node in NODES:
        for event in ({"event": "start", "nodeid": node},
                      {"event": "result", "nodeid": node, "outcome": "passed", "duration": 0.0}):
            os.write(channel, (json.dumps(event) + "\\n").encode())
    if @@EXIT@@:
        os._exit(0)

    def total(items):
        return None
"""


@pytest.mark.parametrize("then_exit", [False, True], ids=["then-run-on", "then-exit"])
def test_forged_events_on_the_result_channel(challenge, docker_sandbox, then_exit):
    """graded, all failed and flagged: passes written to FAULTLINE_RESULT_FD at import arrive
    before pytest reports its collection, so the harness distrusts them; when the tests then
    run, the real results conflict with the forged ones. (Before the harness fix, forging and
    then exiting scored 4/4.)"""
    report = _grade_hostile(
        challenge, docker_sandbox, FORGE_AT_IMPORT.replace("@@EXIT@@", repr(then_exit))
    )
    assert report["status"] == "graded"
    assert _outcomes(report) == ["failed", "failed"]
    assert any("before the tests were collected" in item for item in report["flags"])


IN_PROCESS_FORGERIES = {
    "forge-during-a-test-then-exit": """
        import json
        import os

        NODES = ("test_calc.py::test_total_adds_every_item",
                 "test_calc.py::test_total_of_nothing_is_zero")

        def total(items):
            channel = int(os.environ["FAULTLINE_RESULT_FD"])
            for event in ({"event": "result", "nodeid": NODES[0], "outcome": "passed"},
                          {"event": "start", "nodeid": NODES[1]},
                          {"event": "result", "nodeid": NODES[1], "outcome": "passed"}):
                os.write(channel, (json.dumps(event) + "\\n").encode())
            os._exit(0)
    """,
    "silence-the-plugin-then-skip-tests": """
        import _pytest.python
        import faultline_harness.plugin

        faultline_harness.plugin._plugin._tampering = lambda: []
        _pytest.python.Function.runtest = lambda self: None

        def total(items):
            return None
    """,
}


@pytest.mark.parametrize("attack", sorted(IN_PROCESS_FORGERIES))
def test_protocol_forgeries_fail_under_judged_grading(judged, docker_sandbox, attack):
    """Both scored 4/4 when the tests ran in the candidate's process. Judged, the candidate's
    code runs in a host with no result channel and no pytest to patch: every check fails."""
    report = _grade_hostile(judged, docker_sandbox, IN_PROCESS_FORGERIES[attack])
    assert report["status"] in ("graded", "error"), report["status_detail"]
    assert report["grading"] == "judged"


def test_forged_results_file_and_planted_symlinks(challenge, docker_sandbox):
    """graded, all failed: /results is root's (0700) and /job is read-only to the candidate,
    so neither a forged results.json (nor its .tmp) nor a symlink where results are read can be
    planted; copies in cwd and /tmp are never read. ``total`` passes only if a plant worked."""
    report = _grade_hostile(
        challenge,
        docker_sandbox,
        """
        import json
        import os

        FORGED = json.dumps({"harness_version": "1", "mode": "hidden", "checks": [
            {"id": "sums-correctly", "node": "test_calc.py::test_total_adds_every_item",
             "outcome": "passed"},
            {"id": "empty-is-zero", "node": "test_calc.py::test_total_of_nothing_is_zero",
             "outcome": "passed"}]})
        TRUSTED = ("/results/results.json", "/results/results.json.tmp",
                   "/results/candidate-output.log", "/job/results.json", "/job/job.json",
                   os.path.join(os.getcwd(), "results.json"))
        planted, refused = [], []
        for path in (*TRUSTED, "/tmp/results.json", "/tmp/results/results.json"):
            try:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "w") as handle:
                    handle.write(FORGED)
                planted.append(path)
            except OSError as exc:
                refused.append(f"write {path}: {exc.strerror}")
        for link in TRUSTED:
            for target in ("/tmp/results.json", "/etc/passwd"):
                try:
                    os.symlink(target, link)
                    planted.append(link)
                except OSError as exc:
                    refused.append(f"link {link}: {exc.strerror}")

        def total(items):
            if set(planted) & set(TRUSTED):
                return sum(items)
            raise AssertionError(f"refused: {refused}")
    """,
    )
    assert report["status"] == "graded"
    assert _outcomes(report) == ["failed", "failed"]
    assert "write /results/results.json: Permission denied" in report["checks"][0]["message"]
