"""Red team for judged grading, in the real Docker sandbox: a determined candidate who has read
the harness's source keeps the starter's bug and tries to make the verdict lie.

Every attack here keeps the bug it is graded for, so the check it targets must fail (or the run
must be flagged and score no more than the starter). Where an attack would reveal itself by
succeeding (a hidden file was read, the judge was reached), the candidate's code answers
correctly only if it did succeed, so a pass would expose the breach.

Measurement attacks target webhook-dedup-leak, whose memory and time are measured from outside
the candidate's process; protocol attacks target the trivial-sum fixture (two quick checks).
"""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path

import pytest

from grader.grading import grade
from grader.spec import Challenge, load_challenge

pytestmark = pytest.mark.docker

REPO = Path(__file__).resolve().parents[2]


def _only(challenge: Challenge, check_id: str) -> Challenge:
    checks = [c for c in challenge.spec.checks if c.id == check_id]
    return dataclasses.replace(challenge, spec=challenge.spec.model_copy(update={"checks": checks}))


@pytest.fixture(scope="module")
def webhooks() -> Challenge:
    return load_challenge(REPO / "challenges" / "webhook-dedup-leak")


@pytest.fixture(scope="module")
def starter_webhooks(webhooks: Challenge) -> str:
    return webhooks.starter["webhooks.py"]


def _grade(challenge: Challenge, sandbox, files: dict[str, str]) -> dict:
    report = grade(challenge, {k: textwrap.dedent(v) for k, v in files.items()}, sandbox)
    assert report["status"] != "infra_error", report["status_detail"]
    assert report["grading"] == "judged"
    return report


def _check(report: dict, check_id: str) -> dict:
    return next(c for c in report["checks"] if c["id"] == check_id)


# --- hiding memory from the measurement -------------------------------------------------------
# Each keeps every id it has seen (the starter's leak), somewhere other than a Python dict in
# the process the tracer of the old in-process checks looked at.

LEAK_IN_A_CHILD = """
    import os

    _read, _write = os.pipe()
    if os.fork() == 0:
        os.close(_write)
        kept = []
        with os.fdopen(_read, "rb") as source:
            for line in source:
                kept.append(line)
        os._exit(0)
    os.close(_read)
    _sink = os.fdopen(_write, "wb", buffering=0)

    def _remember(event_id):
        _sink.write(event_id.encode() * 4 + b"\\n")
"""

LEAK_IN_AN_ORPHAN = """
    import os
    import time

    _read, _write = os.pipe()
    if os.fork() == 0:
        if os.fork() != 0:
            os._exit(0)
        os.setsid()
        os.close(_write)
        kept = []
        with os.fdopen(_read, "rb") as source:
            for line in source:
                kept.append(line)
        time.sleep(60)
        os._exit(0)
    os.close(_read)
    os.wait()
    _sink = os.fdopen(_write, "wb", buffering=0)

    def _remember(event_id):
        _sink.write(event_id.encode() * 4 + b"\\n")
"""

LEAK_IN_SQLITE_MEMORY = """
    import sqlite3

    _db = sqlite3.connect(":memory:", check_same_thread=False)
    _db.execute("create table seen (id text)")

    def _remember(event_id):
        _db.execute("insert into seen values (?)", (event_id * 4,))
"""

LEAK_IN_MMAP = """
    import mmap

    _area = mmap.mmap(-1, 256 * 1024 * 1024)
    _offset = [0]

    def _remember(event_id):
        data = event_id.encode().ljust(128, b"#")
        _area[_offset[0] : _offset[0] + len(data)] = data
        _offset[0] += len(data)
"""

LEAK_IN_CTYPES = """
    import ctypes

    _buffers = []

    def _remember(event_id):
        _buffers.append(ctypes.create_string_buffer(event_id.encode(), 160))
"""

LEAK_IN_A_TMP_FILE = """
    import os

    _file = open(f"/tmp/seen-{os.getpid()}", "ab", buffering=0)

    def _remember(event_id):
        _file.write(event_id.encode().ljust(160, b"#"))
"""

LEAK_AND_RESET_KERNEL_COUNTERS = """
    import gc
    import tracemalloc

    _kept = []
    tracemalloc.get_traced_memory = lambda: (0, 0)
    gc.collect = lambda *args: 0

    def _remember(event_id):
        _kept.append(event_id * 4)
        if len(_kept) % 5000 == 0:
            try:
                with open("/proc/self/clear_refs", "w") as handle:
                    handle.write("5")
            except OSError:
                pass
"""

MEMORY_ATTACKS = {
    "child-process": LEAK_IN_A_CHILD,
    "double-forked-orphan": LEAK_IN_AN_ORPHAN,
    "sqlite-memory-database": LEAK_IN_SQLITE_MEMORY,
    "anonymous-mmap": LEAK_IN_MMAP,
    "ctypes-buffers": LEAK_IN_CTYPES,
    "file-in-tmpfs": LEAK_IN_A_TMP_FILE,
    "patched-tracer-and-cleared-refs": LEAK_AND_RESET_KERNEL_COUNTERS,
}


def _leaky_webhooks(starter_source: str, storage: str) -> str:
    """The starter, with every processed id also kept in ``storage``'s hiding place and the
    dict itself bounded (so the dict alone would look flat)."""
    source = starter_source.replace(
        "        self._handler(event)\n        self._processed_at[event.id] = now\n",
        "        self._handler(event)\n        self._processed_at[event.id] = now\n"
        "        _remember(event.id)\n"
        "        if len(self._processed_at) > 1_000:\n"
        "            self._processed_at.clear()\n",
    )
    assert "_remember(event.id)" in source
    return source + "\n" + textwrap.dedent(storage)


@pytest.mark.parametrize("attack", sorted(MEMORY_ATTACKS))
def test_memory_hidden_outside_the_dict_is_still_measured(
    webhooks, starter_webhooks, docker_sandbox, attack
):
    challenge = _only(webhooks, "memory-bounded")
    source = _leaky_webhooks(starter_webhooks, MEMORY_ATTACKS[attack])
    report = _grade(challenge, docker_sandbox, {"webhooks.py": source})
    check = _check(report, "memory-bounded")
    assert not check["passed"], check
    assert report["score"] == 0
    growth = check["metrics"][0]
    assert growth["value"] > growth["limit"], growth  # failed on what it measured


# --- patching what measures time --------------------------------------------------------------

SLOW_AND_PATCHED_CLOCKS = """
    import os
    import sys
    import time

    _real = time.perf_counter
    _start = _real()
    for name in ("perf_counter", "monotonic", "process_time", "time"):
        setattr(time, name, lambda: _start)
    os.times = lambda: os.times_result((0.0, 0.0, 0.0, 0.0, 0.0))
    sys.setswitchinterval(1000.0)
    time.sleep = lambda seconds: None
"""


def test_patched_clocks_do_not_hide_a_slow_delivery(webhooks, starter_webhooks, docker_sandbox):
    """A delivery that scans every id in the window (the wrong fix sweep-every-event), with
    every clock of its own process frozen: the judge times the calls from its own process."""
    slow = starter_webhooks.replace(
        "        now = self._clock()\n",
        "        now = self._clock()\n"
        "        expired = [k for k, v in self._processed_at.items()\n"
        "                   if now - v >= self._retention]\n"
        "        for key in expired:\n"
        "            del self._processed_at[key]\n",
        1,
    )
    challenge = _only(webhooks, "delivery-cost-at-peak")
    report = _grade(
        challenge, docker_sandbox, {"webhooks.py": slow + textwrap.dedent(SLOW_AND_PATCHED_CLOCKS)}
    )
    check = _check(report, "delivery-cost-at-peak")
    assert not check["passed"], check
    assert check["metrics"] and check["metrics"][0]["value"] > check["metrics"][0]["limit"]


# --- forging the verdict ---------------------------------------------------------------------

FORGERIES = {
    "write-passes-to-every-inherited-fd": """
        import json
        import os

        NODES = ("test_calc.py::test_total_adds_every_item",
                 "test_calc.py::test_total_of_nothing_is_zero")
        for fd in range(3, 64):
            for node in NODES:
                for event in ({"event": "collected", "nodeids": list(NODES)},
                              {"event": "start", "nodeid": node},
                              {"event": "result", "nodeid": node, "outcome": "passed"}):
                    try:
                        os.write(fd, (json.dumps(event) + "\\n").encode())
                    except OSError:
                        pass

        def total(items):
            return -1
    """,
    "gc-walk-to-the-plugin-then-exit-0": """
        import gc
        import os

        for thing in gc.get_objects():
            if type(thing).__name__ in ("FaultlinePlugin", "_TestRecord", "Run"):
                thing.outcomes = {"call": "passed"}

        def total(items):
            os._exit(0)
    """,
    "excepthook-and-atexit-print-passes": """
        import atexit
        import sys

        atexit.register(lambda: print("2 passed in 0.01s"))
        sys.excepthook = lambda *args: print("PASSED")

        def total(items):
            raise SystemExit(0)
    """,
    "hook-registration-in-the-host": """
        import faultline_harness.plugin as plugin
        import pytest

        class Always:
            @pytest.hookimpl(tryfirst=True)
            def pytest_runtest_makereport(self, item, call):
                return None

        plugin._plugin.records.clear()

        def total(items):
            return None
    """,
    "kill-the-judge": """
        import os
        import signal

        def total(items):
            for pid in os.listdir("/proc"):
                if not pid.isdigit() or int(pid) == os.getpid():
                    continue
                try:
                    if os.stat(f"/proc/{pid}").st_uid == os.getuid():
                        continue
                    os.kill(int(pid), signal.SIGSTOP)
                except OSError:
                    pass
            return 0
    """,
    "answer-right-only-when-a-test-frame-is-on-the-stack": """
        import inspect
        import sys

        def total(items):
            graded = "pytest" in sys.modules or any(
                "test_" in frame.filename or frame.function.startswith("test_")
                for frame in inspect.stack()
            )
            result = 0
            for index in range(len(items) - (0 if graded else 1)):
                result += items[index]
            return result
    """,
}


@pytest.mark.parametrize("attack", sorted(FORGERIES))
def test_forged_verdicts_fail(trivial_challenge, docker_sandbox, attack):
    report = _grade(trivial_challenge, docker_sandbox, {"calc.py": FORGERIES[attack]})
    assert not _check(report, "sums-correctly")["passed"], report["checks"]
    assert report["score"] <= 1  # the starter's score: its guard check only


READ_THE_JUDGE = """
    import glob
    import os

    def _found():
        found = []
        for path in ("/job/tests/test_calc.py", "/job/job.json", "/job/judge",
                     "/results/results.json", "/opt/faultline/../../job/tests"):
            try:
                if os.path.isdir(path):
                    found.extend(os.listdir(path))
                else:
                    with open(path) as handle:
                        found.append(handle.read())
            except OSError:
                pass
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            for name in ("environ", "cmdline", "cwd/test_calc.py", "fd/0", "mem"):
                try:
                    with open(f"/proc/{pid}/{name}", "rb") as handle:
                        data = handle.read(65536)
                except OSError:
                    continue
                if b"test_total" in data or b"FAULTLINE_PYTEST_ARGS" in data:
                    found.append(data)
        found.extend(glob.glob("/job/tests/*"))
        return found

    def total(items):
        if _found():
            return sum(items)
        return sum(items) - 1
"""


def test_hidden_tests_and_judge_files_cannot_be_read(trivial_challenge, docker_sandbox):
    """The hidden tests belong to the judge's uid (0600 in a 0700 folder), its arguments travel
    in its environment (readable by its uid only), the results folder is root's."""
    report = _grade(trivial_challenge, docker_sandbox, {"calc.py": READ_THE_JUDGE})
    assert not _check(report, "sums-correctly")["passed"], report["checks"]


def test_candidate_output_is_kept_apart_and_out_of_the_candidate_view(
    trivial_challenge, docker_sandbox
):
    from grader.report import candidate_view

    source = """
        print("CANDIDATE-SAYS: 2 passed")

        def total(items):
            print("CANDIDATE-SAYS: total called")
            return sum(items)
    """
    report = _grade(trivial_challenge, docker_sandbox, {"calc.py": source})
    assert report["score"] == report["max_score"]
    assert "CANDIDATE-SAYS" in report["candidate_output"]
    assert "CANDIDATE-SAYS" not in report["output"]
    view = candidate_view(report)
    assert "CANDIDATE-SAYS" not in str(view)


# --- bypassing the statement count -----------------------------------------------------------

N_PLUS_ONE_ON_A_RAW_CURSOR = """
    from sqlalchemy import event


    def list_users_with_order_counts(session):
        engine = session.get_bind()
        for name in ("before_cursor_execute", "after_cursor_execute"):
            for listener in list(getattr(engine.dispatch, name)):
                event.remove(engine, name, listener)
        cursor = session.connection().connection.dbapi_connection.cursor()
        cursor.execute("SELECT id, name FROM users ORDER BY id")
        rows = []
        for user_id, name in cursor.fetchall():
            cursor.execute("SELECT count(*) FROM orders WHERE user_id = ?", (user_id,))
            rows.append({"id": user_id, "name": name, "order_count": cursor.fetchone()[0]})
        return rows
"""

READ_THE_JUDGES_DATABASE = """
    import glob
    import sqlite3

    from sqlalchemy import func, select

    from models import Order, User


    def list_users_with_order_counts(session):
        for path in glob.glob("/job/**/*.sqlite", recursive=True) + glob.glob(
            "/tmp/**/*.sqlite", recursive=True
        ):
            try:
                db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
                found = db.execute(
                    "SELECT u.id, u.name, count(o.id) FROM users u "
                    "LEFT JOIN orders o ON o.user_id = u.id GROUP BY u.id ORDER BY u.id"
                ).fetchall()
            except sqlite3.Error:
                continue
            return [{"id": i, "name": n, "order_count": c} for i, n, c in found]
        users = session.scalars(select(User).order_by(User.id)).all()
        return [
            {
                "id": user.id,
                "name": user.name,
                "order_count": session.scalar(
                    select(func.count()).select_from(Order).where(Order.user_id == user.id)
                ),
            }
            for user in users
        ]
"""


@pytest.mark.parametrize(
    "source",
    [N_PLUS_ONE_ON_A_RAW_CURSOR, READ_THE_JUDGES_DATABASE],
    ids=["raw-cursor-without-listeners", "read-the-judges-database-file"],
)
def test_statements_are_counted_where_they_execute(docker_sandbox, source):
    """The database is the judge's: statements on any cursor of the candidate's are forwarded
    and counted there, and its file is the judge's alone (a read would show 0 statements)."""
    challenge = _only(
        load_challenge(REPO / "challenges" / "order-counts-n-plus-one"), "statements-constant"
    )
    report = _grade(challenge, docker_sandbox, {"user_listing.py": source})
    check = _check(report, "statements-constant")
    assert not check["passed"], check
    statements = check["metrics"][0]
    assert statements["value"] > statements["limit"], statements


# --- a host that dies or stops answering ----------------------------------------------------


@pytest.fixture(scope="module")
def quick_trivial(trivial_challenge: Challenge) -> Challenge:
    """trivial-sum with 4 s per check and a 12 s run, so hangs are cut short."""
    spec = trivial_challenge.spec
    limits = spec.limits.model_copy(update={"wall_seconds": 12})
    checks = [c.model_copy(update={"timeout_seconds": 4}) for c in spec.checks]
    return dataclasses.replace(
        trivial_challenge, spec=spec.model_copy(update={"limits": limits, "checks": checks})
    )


@pytest.mark.parametrize(
    "source",
    [
        "import os\n\ndef total(items):\n    os._exit(0)\n",
        "import os, signal\n\ndef total(items):\n    os.kill(os.getpid(), signal.SIGSEGV)\n",
        "import time\n\ndef total(items):\n    time.sleep(3600)\n",
        "import sys\nsys.stdout.close()\nsys.stdin = None\n\ndef total(items):\n"
        "    import threading\n    threading.Event().wait()\n",
    ],
    ids=["exit-0-mid-call", "crash-mid-call", "never-answer", "hang-with-closed-streams"],
)
def test_a_host_that_dies_or_hangs_fails_the_checks_it_owed(quick_trivial, docker_sandbox, source):
    report = _grade(quick_trivial, docker_sandbox, {"calc.py": source})
    assert report["score"] == 0, report["checks"]
    assert all(not check["passed"] for check in report["checks"])
    assert report["durations"]["sandbox_seconds"] < 12 + 10


PLANT_A_PTH_THEN_HANG = """
    import os
    import sys

    NODE = "test_calc.py::test_total_adds_every_item"
    PAYLOAD = (
        "import json, os; fd = int(os.environ.get('FAULTLINE_RESULT_FD', '-1')); "
        "fd >= 0 and [os.write(fd, (json.dumps(e) + '\\\\n').encode()) for e in ("
        f"{{'event': 'collected', 'nodeids': [{NODE!r}]}}, "
        f"{{'event': 'start', 'nodeid': {NODE!r}}}, "
        f"{{'event': 'result', 'nodeid': {NODE!r}, 'outcome': 'passed'}})] "
        "and os._exit(0)\\n"
    )
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for home in ("/tmp", os.path.expanduser("~")):
        site = os.path.join(home, ".local", "lib", version, "site-packages")
        try:
            os.makedirs(site, exist_ok=True)
            with open(os.path.join(site, "zz_forge.pth"), "w") as handle:
                handle.write(PAYLOAD)
            os.chmod(site, 0o755)
            os.chmod(os.path.join(site, "zz_forge.pth"), 0o644)
        except OSError:
            pass

    def total(items):
        if not items:
            import time
            time.sleep(3600)  # the guard check times out: the harness starts a new judge
        result = 0
        for index in range(len(items) - 1):
            result += items[index]
        return result
"""


def test_a_file_planted_for_the_next_judge_is_not_run(quick_trivial, docker_sandbox):
    """A host writes a .pth into the user site-packages under $HOME (/tmp), then hangs so that
    its check times out and the harness restarts the judge for the checks still owed; the line
    would forge a pass in the new judge. Two things stop it today: the runner's Python is a
    virtualenv (no user site-packages) and the judge and the fork server start with -s. This
    fails if both go (say, the image moves to the system Python)."""
    spec = quick_trivial.spec
    guard_first = sorted(spec.checks, key=lambda check: check.id != "empty-is-zero")
    challenge = dataclasses.replace(
        quick_trivial, spec=spec.model_copy(update={"checks": guard_first})
    )
    report = _grade(challenge, docker_sandbox, {"calc.py": PLANT_A_PTH_THEN_HANG})
    assert not _check(report, "empty-is-zero")["passed"]  # it hung: the restart did happen
    assert not _check(report, "sums-correctly")["passed"], report["checks"]
    assert report["score"] == 0


# --- hiding a race from the interleaving ------------------------------------------------------

HIDE_THE_RACE = {
    "switch-interval-and-sleep-patched-at-import": """
        import sys
        import time

        sys.setswitchinterval(1000.0)
        sys.setprofile = lambda *args: None
        time.sleep = lambda seconds: None
    """,
    "profile-hook-removed-during-the-call": """
        import sys

        _original_hit = RateLimiter.hit

        def _unhooked_hit(self, api_key):
            sys.setprofile(None)
            sys.setswitchinterval(1000.0)
            return _original_hit(self, api_key)

        RateLimiter.hit = _unhooked_hit
    """,
}


@pytest.mark.parametrize("attack", sorted(HIDE_THE_RACE))
def test_a_race_cannot_be_hidden_by_stopping_preemption(docker_sandbox, attack):
    """The starter's check-then-record race, with the candidate's process told not to switch
    threads: the host sets its switch interval and preemption hook again for every request,
    from references taken before the candidate's code was imported, and a request whose code
    removed the hook fails outright."""
    challenge = _only(load_challenge(REPO / "challenges" / "api-rate-limiter"), "concurrent-limit")
    source = challenge.starter["ratelimit.py"] + textwrap.dedent(HIDE_THE_RACE[attack])
    report = _grade(challenge, docker_sandbox, {"ratelimit.py": source})
    assert not _check(report, "concurrent-limit")["passed"], report["checks"]
