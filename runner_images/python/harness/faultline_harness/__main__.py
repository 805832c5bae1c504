"""The harness: runs a job's tests against candidate code and writes the scoring record.

Inside the container it is PID 1, running as root with only the capabilities it needs to start
processes as unprivileged users (SETUID, SETGID) and to stop them (KILL). Candidate code never
runs in this process. It writes results where no other user can write, and requires a result for
every expected check: anything missing, duplicated or contradictory fails.

Judged runs (hidden checks of a ``grading: judged`` challenge) have three parties: this harness;
the judge (pytest with the hidden tests, as ``--judge-user``), which never imports candidate code;
and candidate hosts the judge asks for (see hosts.py), each a fresh uid, whose memory the harness
samples from /proc. Other runs start pytest as ``--as-user`` with the candidate's code imported.

Usage: python -m faultline_harness JOB_DIR RESULTS_FILE [--as-user UID:GID]
       [--judge-user UID:GID] [--python PATH]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from faultline_harness.hosts import HostManager
from faultline_harness.processes import base_environment, limit_process

RECORD_SCHEMA = Path(__file__).with_name("record.schema.json")
HARNESS_VERSION = json.loads(RECORD_SCHEMA.read_text())["properties"]["harness_version"]["const"]
"""The version of the record this harness writes: record.schema.json is the contract."""
EVENT_LINE_LIMIT = 256 * 1024
EVENT_BYTES_LIMIT = 8 * 1024 * 1024
MESSAGE_LIMIT = 2000
IMPORT_ERROR_CHARS = 500
HARNESS_DIR = Path(__file__).resolve().parent.parent


@dataclass
class CheckState:
    id: str
    node: str
    timeout: float
    outcome: str = "missing"
    message: str = ""
    duration: float = 0.0
    metrics: list[dict[str, Any]] = field(default_factory=list)
    started: bool = False
    reported: bool = False


@dataclass
class Run:
    job_dir: Path
    job: dict[str, Any]
    deadline: float
    checks: dict[str, CheckState]
    flags: list[str] = field(default_factory=list)
    collect_errors: list[str] = field(default_factory=list)
    import_error: str = ""  # the candidate's module failed to import (judged runs): their text
    exits: list[str] = field(default_factory=list)
    collected: list[str] = field(default_factory=list)
    collected_in_run: bool = False
    timed_out: bool = False
    oom: bool = False
    event_bytes: int = 0

    def flag(self, text: str) -> None:
        if text not in self.flags and len(self.flags) < 20:
            self.flags.append(text[:300])


WHOLE_SUITE = ["."]  # a visible run's first attempt: every test in the tests folder
RECORD_UNWRITABLE_EXIT = 75  # EX_TEMPFAIL: the sandbox reads it as the platform's failure


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="faultline_harness")
    parser.add_argument("job_dir", type=Path)
    parser.add_argument("results", type=Path)
    parser.add_argument("--as-user", default=None, help="UID:GID to run candidate code as")
    parser.add_argument("--judge-user", default=None, help="UID:GID of the judge (judged runs)")
    parser.add_argument("--python", default=sys.executable)
    args = parser.parse_args(argv)

    started = time.monotonic()
    job = json.loads((args.job_dir / "job.json").read_text())
    wall = float(job["wall_seconds"])
    run = Run(
        job_dir=args.job_dir,
        job=job,
        deadline=started + max(1.0, wall - 1.0),
        checks={
            c["node"]: CheckState(id=c["id"], node=c["node"], timeout=float(c["timeout"]))
            for c in job["checks"]
        },
    )
    user = _ids(args.as_user)
    judged = job["mode"] == "hidden" and job.get("grading") == "judged"
    if judged:
        user = _ids(args.judge_user)
        if user is not None:
            _hand_to_judge(args.job_dir, user)
    output_path = args.results.parent / ("test-output.log" if judged else "candidate-output.log")
    candidate_output_path = args.results.parent / "candidate-output.log"
    oom_before = _oom_kills()

    pending = list(run.checks) if job["mode"] == "hidden" else WHOLE_SUITE
    while pending and time.monotonic() < run.deadline:
        hosts = None
        if judged:
            candidate_fd = os.open(candidate_output_path, _OUTPUT_FLAGS, 0o600)
            hosts = HostManager(
                job_dir=args.job_dir,
                python=args.python,
                harness_dir=HARNESS_DIR,
                switch_users=user is not None,
                output_fd=candidate_fd,
                pids=int(job.get("pids", 64)),
            )
            hosts.start_forkserver()
        try:
            pending = _run_pytest(run, pending, args.python, user, output_path, hosts)
        finally:
            if hosts is not None:
                hosts.close_all()
                os.close(candidate_fd)
    if pending and time.monotonic() >= run.deadline:
        run.timed_out = True
    if _oom_kills() > oom_before:
        run.oom = True

    results = _results(run, output_path, time.monotonic() - started)
    if judged:
        limit = int(job.get("output_bytes", 0))
        text, _, truncated = _read_output(candidate_output_path, limit)
        results["candidate_output"] = text
        results["candidate_output_truncated"] = truncated
    try:
        _write_results(args.results, results)
    except OSError as exc:  # the platform's volume: candidate code cannot write there
        print(f"faultline-harness: cannot write the result record: {exc.strerror}", file=sys.stderr)
        return RECORD_UNWRITABLE_EXIT
    return 0


def _hand_to_judge(job_dir: Path, user: tuple[int, int]) -> None:
    """The hidden tests and the judge's scratch folder arrive root's and private (0600/0700):
    give them to the judge's uid, so no other uid in the container can read them."""
    for top in ("tests", "judge"):
        root = job_dir / top
        if not root.is_dir():
            continue
        # Bottom-up, each folder after its files: once a folder is the judge's, this process
        # (root without CAP_DAC_OVERRIDE) can no longer look inside it.
        for folder, _, names in os.walk(root, topdown=False):
            for name in names:
                os.chown(os.path.join(folder, name), *user, follow_symlinks=False)
            os.chown(folder, *user, follow_symlinks=False)


_OUTPUT_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW


def _ids(text: str | None) -> tuple[int, int] | None:
    return tuple(int(x) for x in text.split(":")) if text else None  # type: ignore[return-value]


def _run_pytest(
    run: Run,
    pending: list[str],
    python: str,
    user: tuple[int, int] | None,
    output: Path,
    hosts: HostManager | None = None,
) -> list[str]:
    """Run pytest on ``pending`` nodes; return the nodes still to run after a crash or timeout.

    With ``hosts`` this is a judged run: pytest is the judge, and its control channel to the
    harness (start a host, read its memory) is served here beside the result events.
    """
    run.collected_in_run = False
    read_end, write_end = os.pipe()
    launch = _launch_plan(run, pending, python, write_end, judged=hosts is not None)
    process = _start(launch, output, user, int(run.job.get("pids", 64)))
    os.close(write_end)
    if launch.judge_end is not None:
        launch.judge_end.close()
    with os.fdopen(read_end, "rb", buffering=0) as reader:
        followed = _follow(run, process, reader, launch.control, hosts)
    if launch.control is not None:
        launch.control.close()
    exit_text = _describe_exit(_stop(process, user is not None), followed.stopped_by_us)
    run.exits.append(exit_text)
    return _settle(run, pending, followed, exit_text)


@dataclass
class LaunchPlan:
    """How to start the test process: plain pytest, or the judge with its control channel."""

    command: list[str]
    env: dict[str, str]
    cwd: Path
    pass_fds: list[int]
    control: socket.socket | None = None  # the harness's end of the judge's control channel
    judge_end: socket.socket | None = None


def _launch_plan(
    run: Run, pending: list[str], python: str, result_fd: int, *, judged: bool
) -> LaunchPlan:
    tests_dir = run.job_dir / "tests"
    targets = [str(tests_dir)] if pending == WHOLE_SUITE else [str(tests_dir / n) for n in pending]
    env = base_environment(
        PYTHONHASHSEED="0",
        PYTHONPATH=f"{run.job_dir / 'src'}{os.pathsep}{HARNESS_DIR}",
        FAULTLINE_RESULT_FD=str(result_fd),
        FAULTLINE_STARTER_DIR=str(run.job_dir / "starter"),
        FAULTLINE_TESTS_DIR=str(tests_dir),
    )
    pytest_args = [
        "-p",
        "faultline_harness.plugin",
        "-p",
        "no:cacheprovider",
        "-q",
        "--tb=short",
        "--color=no",
        f"--rootdir={tests_dir}",
        *targets,
    ]
    if not judged:
        return LaunchPlan(
            [python, "-m", "pytest", *pytest_args], env, run.job_dir / "src", [result_fd]
        )
    # The judge imports no candidate code: its path is the harness alone, its arguments (the
    # hidden tests' names) travel in its environment, which only its uid can read.
    control, judge_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    private_tmp = run.job_dir / "judge"
    env.update(
        PYTHONPATH=str(HARNESS_DIR),
        FAULTLINE_JUDGED="1",
        FAULTLINE_CONTROL_FD=str(judge_end.fileno()),
        FAULTLINE_PYTEST_ARGS=json.dumps(pytest_args),
        TMPDIR=str(private_tmp) if private_tmp.is_dir() else "/tmp",
    )
    del env["FAULTLINE_STARTER_DIR"]
    return LaunchPlan(
        # -s: no user site-packages, whose .pth files a host could have planted under $HOME
        # before a restart of the judge
        [python, "-s", "-m", "faultline_harness.judge"],
        env,
        Path("/"),  # the judge moves into its own (private) tests folder itself
        [result_fd, judge_end.fileno()],
        control,
        judge_end,
    )


def _start(
    launch: LaunchPlan, output: Path, user: tuple[int, int] | None, pids: int
) -> subprocess.Popen:
    output_fd = os.open(output, _OUTPUT_FLAGS, 0o600)
    kwargs: dict[str, Any] = {}
    if user is not None:
        kwargs.update(user=user[0], group=user[1], extra_groups=[])
    try:
        return subprocess.Popen(
            launch.command,
            cwd=launch.cwd,
            env=launch.env,
            stdin=subprocess.DEVNULL,
            stdout=output_fd,
            stderr=output_fd,
            pass_fds=launch.pass_fds,
            start_new_session=True,
            preexec_fn=lambda: limit_process(pids if user is not None else None),
            **kwargs,
        )
    finally:
        os.close(output_fd)


@dataclass
class Followed:
    """How following a test process's result events ended."""

    current: CheckState | None  # the check that had started and not reported, if any
    current_started: float
    stopped_by_us: str  # "", "timeout" or "flood"


def _follow(
    run: Run,
    process: subprocess.Popen,
    reader: Any,
    control: socket.socket | None,
    hosts: HostManager | None,
) -> Followed:
    """Read result events (and serve the judge's control requests) until the test process ends,
    a check or the run overstays its time, or the events flood."""
    current: CheckState | None = None
    current_started = time.monotonic()
    buffer = b""
    while True:
        now = time.monotonic()
        limit = run.deadline
        if current is not None:
            limit = min(limit, current_started + current.timeout)
        if now >= limit:
            return Followed(current, current_started, "timeout")
        watched = [reader] if control is None else [reader, control]
        ready, _, _ = select.select(watched, [], [], min(0.5, limit - now))
        if not ready:
            if process.poll() is not None:
                return Followed(current, current_started, "")
            continue
        if control is not None and control in ready:
            try:
                hosts.handle(control)  # type: ignore[union-attr]
            except (EOFError, OSError):
                control.close()
                control = None
            if reader not in ready:
                continue
        chunk = reader.read(65536)
        if not chunk:
            return Followed(current, current_started, "")
        run.event_bytes += len(chunk)
        if run.event_bytes > EVENT_BYTES_LIMIT:
            run.flag("the test process wrote more result events than any real run does")
            return Followed(current, current_started, "flood")
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            event_check = _handle_event(run, line)
            if event_check is not None:
                kind, state = event_check
                if kind == "start":
                    current, current_started = state, time.monotonic()
                elif kind == "result" and state is current:
                    current = None
        if len(buffer) > EVENT_LINE_LIMIT:
            run.flag("an over-long result event was discarded")
            buffer = b""


def _settle(run: Run, pending: list[str], followed: Followed, exit_text: str) -> list[str]:
    """Give every check of this attempt its outcome; the nodes a new attempt should run."""
    stopped_by_us, current = followed.stopped_by_us, followed.current
    if stopped_by_us == "timeout" and time.monotonic() >= run.deadline:
        # Stopped at the run's time limit with work unfinished (even before any check started,
        # e.g. a hang at import): the run timed out.
        expected = pending if run.job["mode"] == "hidden" else list(run.checks)
        if not expected or any(not run.checks[n].reported for n in expected if n in run.checks):
            run.timed_out = True

    if pending == WHOLE_SUITE:  # a visible run: its tests are those it collected
        pending = [node for node in run.collected if node in run.checks]
    if current is not None and not current.reported:
        current.reported = True
        current.outcome = "timeout" if stopped_by_us == "timeout" else "crashed"
        if stopped_by_us == "timeout":
            seconds = min(current.timeout, max(0.0, time.monotonic() - followed.current_started))
            current.message = f"stopped after {seconds:.0f} s (check limit {current.timeout:.0f} s)"
        else:
            current.message = f"the test process {exit_text} during this check"
        if stopped_by_us == "timeout" and time.monotonic() >= run.deadline:
            run.timed_out = True
        remaining = [n for n in pending if not run.checks[n].reported]
        return remaining if stopped_by_us != "flood" else []
    for node in pending:
        state = run.checks[node]
        if not state.reported and state.outcome == "missing":
            state.message = f"no result: the test process {exit_text} before this check ran"
    return []


def _handle_event(run: Run, line: bytes) -> tuple[str, CheckState | None] | None:
    try:
        event = json.loads(line)
    except ValueError:
        run.flag("the result channel carried text that is not a result event")
        return None
    if not isinstance(event, dict):
        run.flag("the result channel carried text that is not a result event")
        return None
    kind = event.get("event")
    if kind == "collected":
        nodeids = event.get("nodeids")
        if isinstance(nodeids, list):
            run.collected_in_run = True
            new = [str(n) for n in nodeids if str(n) not in run.collected]  # a re-run: a part
            run.collected = (run.collected + new)[:500]
            if run.job["mode"] != "hidden":
                timeout = float(run.job.get("test_timeout", 60))
                for node in run.collected:
                    run.checks.setdefault(node, CheckState(id=node, node=node, timeout=timeout))
        return None
    if kind == "collect_error":
        if len(run.collect_errors) < 10:
            run.collect_errors.append(_bounded(str(event.get("message", ""))))
        return None
    if kind == "import_error":
        # Only a judge sends it: in-process, the test process runs the candidate's code and
        # could forge it to carry a hidden test's text out to the candidate.
        if run.job.get("grading") == "judged" and not run.import_error:
            run.import_error = str(event.get("message", ""))[:IMPORT_ERROR_CHARS]
        return None
    node = str(event.get("nodeid", ""))
    state = run.checks.get(node)
    if state is None:
        if kind in ("start", "result"):
            run.flag(f"a result arrived for a test that is not a check: {node[:100]}")
        return None
    if kind == "start":
        if not run.collected_in_run and not state.reported:
            # The plugin reports collection before any test starts: an earlier start comes from
            # code that ran during collection (the candidate's imports), not from pytest.
            run.flag(f"{state.id}: a result event arrived before the tests were collected")
            state.started = state.reported = True
            state.outcome = "failed"
            state.message = "result events arrived before the tests were collected; not trusted"
            return None
        if state.started and not state.reported:
            run.flag(f"{state.id}: started twice")
        state.started = True
        return "start", state
    if kind == "result":
        if state.reported:
            run.flag(f"{state.id}: more than one result was reported; the check is failed")
            state.outcome = "failed"
            state.message = "conflicting results were reported for this check"
            return "result", state
        if not state.started:
            run.flag(f"{state.id}: a result arrived for a check that never started")
            state.reported = True
            state.outcome = "failed"
            return "result", state
        state.reported = True
        outcome = event.get("outcome")
        state.outcome = outcome if outcome in ("passed", "failed", "skipped") else "failed"
        state.message = _bounded(str(event.get("message", "")))
        try:
            state.duration = float(event.get("duration", 0.0))
        except (TypeError, ValueError):
            state.duration = 0.0
        metrics = event.get("metrics")
        state.metrics = metrics[:20] if isinstance(metrics, list) else []
        tampering = event.get("tampering")
        if tampering:
            state.outcome = "failed"
            for item in tampering[:5]:
                run.flag(f"{state.id}: {str(item)[:200]}")
        return "result", state
    return None


def _stop(process: subprocess.Popen, sandboxed: bool) -> int:
    """Kill the test process and everything it started; return the test process's exit code."""
    if sandboxed and os.getpid() == 1:
        # PID 1 of the container: kill every other process, including any that escaped the group.
        _kill_all_others()
        returncode = process.wait()
        for _ in range(3):
            _kill_all_others()
            _reap_orphans()
        return returncode
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    return process.wait()


def _kill_all_others() -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(-1, signal.SIGKILL)


def _reap_orphans() -> None:
    """As PID 1, collect the orphans re-parented to us."""
    deadline = time.monotonic() + 0.3
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.01)


def _describe_exit(code: int, stopped_by_us: str) -> str:
    if stopped_by_us == "timeout":
        return "was stopped at its time limit"
    if stopped_by_us == "flood":
        return "was stopped for flooding the result channel"
    if code >= 0:
        return f"exited with code {code}"
    number = -code
    name = signal.Signals(number).name if number in signal.Signals._value2member_map_ else number
    if number == signal.SIGXFSZ:
        return "was stopped for writing more output than allowed"
    if number == signal.SIGKILL:
        return "was killed (SIGKILL: out of memory, or a process limit)"
    return f"was killed by {name}"


def _oom_kills() -> int:
    for path, key in (
        ("/sys/fs/cgroup/memory.events", "oom_kill"),
        ("/sys/fs/cgroup/memory/memory.oom_control", "oom_kill"),
    ):
        try:
            for line in Path(path).read_text().splitlines():
                name, _, value = line.partition(" ")
                if name == key:
                    return int(value)
        except (OSError, ValueError):
            continue
    return 0


def _bounded(text: str, limit: int = MESSAGE_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 20] + "\n… (truncated)"


def _json_bounded(text: str, limit: int) -> str:
    """The longest prefix of ``text`` whose JSON encoding fits in ``limit`` characters.

    Control bytes and invalid UTF-8 (decoded as U+FFFD) take 6 characters each in JSON, so a
    byte limit alone lets binary output grow the record, and the report, sixfold.
    """
    if len(json.dumps(text)) <= limit:
        return text
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if len(json.dumps(text[:middle])) <= limit:
            low = middle
        else:
            high = middle - 1
    return text[:low]


def _read_output(path: Path, limit: int) -> tuple[str, int, bool]:
    """The first ``limit`` bytes of an output log as JSON-bounded text, its size, truncated?"""
    limit = limit or 256 * 1024
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(descriptor, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            output = handle.read(limit).decode("utf-8", "replace")
    except OSError:
        return "", 0, False
    bounded = _json_bounded(output, limit)
    return bounded, size, size > limit or len(bounded) < len(output)


def _results(run: Run, output_path: Path, elapsed: float) -> dict[str, Any]:
    output, size, truncated = _read_output(output_path, int(run.job.get("output_bytes", 0)))
    checks = []
    for state in run.checks.values():
        if not state.reported and state.outcome == "missing" and not state.message:
            state.message = "no result was recorded for this check"
        checks.append(
            {
                "id": state.id,
                "node": state.node,
                "outcome": state.outcome
                if state.reported or state.outcome != "missing"
                else "missing",
                "duration": round(state.duration, 6),
                "message": state.message,
                "metrics": state.metrics,
            }
        )
    return {
        "harness_version": HARNESS_VERSION,
        "mode": run.job["mode"],
        "checks": checks,
        "collected": run.collected,
        "collect_errors": run.collect_errors,
        "import_error": run.import_error,
        "exits": run.exits[:20],
        "flags": run.flags,
        "timed_out": run.timed_out,
        "oom": run.oom,
        "output": output,
        "output_bytes": size,
        "output_truncated": truncated,
        "duration": round(elapsed, 3),
    }


def _write_results(path: Path, results: dict[str, Any]) -> None:
    data = json.dumps(results).encode()
    temporary = path.with_name(path.name + ".tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    descriptor = os.open(temporary, flags, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    os.replace(temporary, path)


if __name__ == "__main__":
    sys.exit(main())
