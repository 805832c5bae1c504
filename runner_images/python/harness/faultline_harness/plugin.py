"""pytest plugin of every test run; it streams one event per test to the harness over the
file descriptor named by ``FAULTLINE_RESULT_FD``.

Judged runs (hidden checks of a ``grading: judged`` challenge): this process is the judge. It
runs as a uid of its own and never imports candidate code; the fixtures ``candidate`` and
``starter`` are :class:`faultline_harness.judge.HostClient` connections to candidate hosts the
harness starts (a fresh process and uid each), and ``evidence`` records what the check measured.

In-process runs (visible tests, and hidden checks of ``grading: in-process`` challenges): the
tests import the candidate's modules, ``starter`` loads the unmodified starter under a private
name. Candidate code runs in this process, so nothing here is trusted on its own: the harness
requires every expected check exactly once, and the plugin cross-checks pytest's reports against
what its own hook wrappers saw, reporting any disagreement or tampering with pytest's machinery.
That catches the naive forgeries only; docs/sandbox.md says why judged grading exists.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import _pytest.python
import _pytest.reports
import _pytest.runner
import pytest

MESSAGE_LIMIT = 2000
IMPORT_ERROR_CHARS = 500
METRICS_PER_TEST = 20

_PRISTINE = {
    "TestReport.__init__": _pytest.reports.TestReport.__init__,
    "TestReport.from_item_and_call": _pytest.reports.TestReport.__dict__["from_item_and_call"],
    "CallInfo.from_call": _pytest.runner.CallInfo.__dict__["from_call"],
    "runner.call_and_report": _pytest.runner.call_and_report,
    "Function.runtest": _pytest.python.Function.runtest,
    "pytest_pyfunc_call": _pytest.python.pytest_pyfunc_call,
    "pytest_runtest_makereport": _pytest.runner.pytest_runtest_makereport,
}
_TRUSTED_HOOK_MODULE_PREFIXES = ("_pytest.", "pytest_timeout", "pluggy", "faultline_harness")


def _current_pristine() -> dict[str, Any]:
    return {
        "TestReport.__init__": _pytest.reports.TestReport.__init__,
        "TestReport.from_item_and_call": _pytest.reports.TestReport.__dict__.get(
            "from_item_and_call"
        ),
        "CallInfo.from_call": _pytest.runner.CallInfo.__dict__.get("from_call"),
        "runner.call_and_report": _pytest.runner.call_and_report,
        "Function.runtest": _pytest.python.Function.runtest,
        "pytest_pyfunc_call": _pytest.python.pytest_pyfunc_call,
        "pytest_runtest_makereport": _pytest.runner.pytest_runtest_makereport,
    }


def _bounded(text: str, limit: int = MESSAGE_LIMIT) -> str:
    if len(text) <= limit:
        return text
    return text[: limit - 20] + "\n… (truncated)"


@dataclass
class _TestRecord:
    metrics: list[dict[str, Any]] = field(default_factory=list)
    raised: list[str] = field(default_factory=list)
    outcomes: dict[str, str] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)
    duration: float = 0.0
    suspect: list[str] = field(default_factory=list)


class Evidence:
    """What a hidden test measured, reported beside its verdict.

    ``value`` is the candidate's figure, ``limit`` the bound the test asserts, ``starter`` the
    same figure measured on the starter code in this run (when the test measures it).
    """

    def __init__(self, record: _TestRecord) -> None:
        self._record = record

    def suspect(self, reason: str) -> None:
        """The run cannot be trusted (e.g. the starter baseline did not show its bug in this
        run): the check fails whatever it asserts, and the report carries ``reason`` as a flag."""
        if len(self._record.suspect) < 5:
            self._record.suspect.append(str(reason)[:200])

    def metric(
        self,
        name: str,
        value: float,
        *,
        unit: str = "",
        limit: float | None = None,
        starter: float | None = None,
        better: str = "lower",
        label: str | None = None,
    ) -> None:
        if better not in ("lower", "higher"):
            raise ValueError("better must be 'lower' or 'higher'")
        if len(self._record.metrics) >= METRICS_PER_TEST:
            return
        self._record.metrics.append(
            {
                "name": str(name)[:64],
                "label": str(label or name)[:200],
                "value": _finite(value),
                "unit": str(unit)[:16],
                "limit": _finite(limit),
                "starter": _finite(starter),
                "better": better,
            }
        )


def _finite(value: float | None) -> float | None:
    if value is None:
        return None
    number = float(value)
    if math.isnan(number) or math.isinf(number):
        return None
    return round(number, 6)


class Starter:
    """Loads the starter version of a module, under a private name, for same-run baselines."""

    def __init__(self, directory: Path | None) -> None:
        self._directory = directory
        self._cache: dict[str, ModuleType] = {}

    def load(self, module: str) -> ModuleType:
        if module in self._cache:
            return self._cache[module]
        if self._directory is None:
            pytest.skip("starter baseline not available (FAULTLINE_STARTER_DIR unset)")
        path = self._directory / (module.replace(".", "/") + ".py")
        spec = importlib.util.spec_from_file_location(f"_faultline_starter_{module}", path)
        if spec is None or spec.loader is None:
            raise ImportError(f"no starter module {module!r}")
        loaded = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = loaded
        spec.loader.exec_module(loaded)
        self._cache[module] = loaded
        return loaded


class _Channel:
    def __init__(self) -> None:
        fd = os.environ.get("FAULTLINE_RESULT_FD")
        self._stream = os.fdopen(int(fd), "w", buffering=1, closefd=False) if fd else None

    def send(self, event: dict[str, Any]) -> None:
        if self._stream is None:
            return
        try:
            self._stream.write(json.dumps(event) + "\n")
            self._stream.flush()
        except (OSError, ValueError):
            pass


class FaultlinePlugin:
    def __init__(self) -> None:
        self.channel = _Channel()
        starter_dir = os.environ.get("FAULTLINE_STARTER_DIR")
        self.starter = Starter(Path(starter_dir) if starter_dir else None)
        self.records: dict[str, _TestRecord] = {}
        self.config: pytest.Config | None = None

    def record_for(self, nodeid: str) -> _TestRecord:
        return self.records.setdefault(nodeid, _TestRecord())

    # Collection ------------------------------------------------------------------------------

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.channel.send({"event": "collected", "nodeids": [i.nodeid for i in session.items]})

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.channel.send(
                {
                    "event": "collect_error",
                    "nodeid": report.nodeid,
                    "message": _bounded(str(report.longrepr)),
                }
            )

    # Running ---------------------------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logstart(self, nodeid: str, location: Any) -> None:
        self.record_for(nodeid)
        self.channel.send({"event": "start", "nodeid": nodeid})

    def _guard(self, item: pytest.Item, phase: str):
        record = self.record_for(item.nodeid)
        try:
            return (yield)
        except BaseException as exc:
            if not isinstance(exc, pytest.skip.Exception):
                record.raised.append(phase)
            if JUDGED and type(exc).__name__ == "CandidateImportError":
                self.channel.send(
                    {
                        "event": "collect_error",
                        "nodeid": item.nodeid,
                        "message": _bounded(f"the candidate's code failed to import: {exc}"),
                    }
                )
                self.channel.send({"event": "import_error", "message": _import_failure(exc)})
            raise

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item):
        return (yield from self._guard(item, "setup"))

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_call(self, item: pytest.Item):
        return (yield from self._guard(item, "call"))

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_teardown(self, item: pytest.Item, nextitem: pytest.Item | None):
        return (yield from self._guard(item, "teardown"))

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        record = self.record_for(report.nodeid)
        record.outcomes[report.when] = report.outcome
        record.duration += float(getattr(report, "duration", 0.0) or 0.0)
        if report.failed and report.longrepr is not None:
            record.messages.append(_failure_message(report))

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_logfinish(self, nodeid: str, location: Any) -> None:
        record = self.record_for(nodeid)
        tampering = ([] if JUDGED else self._tampering()) + record.suspect
        outcomes = record.outcomes
        if any(value == "failed" for value in outcomes.values()) or record.raised:
            outcome = "failed"
        elif outcomes.get("call") == "passed":
            outcome = "passed"
        elif "skipped" in outcomes.values():
            outcome = "skipped"
        else:
            outcome = "failed"
        if record.raised and outcome == "passed":
            tampering.append("pytest reported a pass for a test that raised")
        if outcomes.get("call") == "passed" and "call" in record.raised:
            tampering.append("call phase raised but was reported as passed")
        message = "\n".join(record.messages)
        if record.raised and not message:
            message = f"failed during {', '.join(record.raised)}"
        event = {
            "event": "result",
            "nodeid": nodeid,
            "outcome": outcome,
            "duration": round(record.duration, 6),
            "message": _bounded(message),
            "metrics": record.metrics,
        }
        if tampering:
            event["tampering"] = tampering[:5]
        self.channel.send(event)

    def _tampering(self) -> list[str]:
        found = [
            f"{name} was replaced"
            for name, original in _current_pristine().items()
            if original is not _PRISTINE[name]
        ]
        if self.config is None:
            return found
        for hook_name in (
            "pytest_runtest_makereport",
            "pytest_runtest_logreport",
            "pytest_report_teststatus",
            "pytest_runtest_protocol",
            "pytest_pyfunc_call",
        ):
            hook = getattr(self.config.hook, hook_name)
            for impl in hook.get_hookimpls():
                module = getattr(impl.function, "__module__", "") or ""
                if not (module.startswith(_TRUSTED_HOOK_MODULE_PREFIXES) or _is_test_module(impl)):
                    found.append(f"untrusted {hook_name} hook from {module or '?'}")
        return found


def _is_test_module(impl: Any) -> bool:
    code = getattr(impl.function, "__code__", None)
    tests_dir = os.environ.get("FAULTLINE_TESTS_DIR")
    return bool(code and tests_dir and code.co_filename.startswith(tests_dir + os.sep))


def _import_failure(exc: Any) -> str:
    """The candidate's own exception at import, as they would read it: ``SyntaxError: invalid
    syntax (webhooks.py, line 66)``, or ``NameError: ... (at webhooks.py:12)``. It is their
    code's text alone (the host that imported it never sees a hidden test)."""
    text = f"{exc.type_name}: {exc.message}"
    if exc.where and not exc.where.startswith("<"):
        text += f" (at {exc.where})"
    return _bounded(text, IMPORT_ERROR_CHARS)


def _failure_message(report: pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None and getattr(crash, "message", None):
        return f"{report.when}: {crash.message}"
    return f"{report.when}: {str(report.longrepr).strip().splitlines()[-1:]}"


_plugin = FaultlinePlugin()


def pytest_configure(config: pytest.Config) -> None:
    _plugin.config = config
    if not config.pluginmanager.is_registered(_plugin):
        config.pluginmanager.register(_plugin, "faultline-recorder")


@pytest.fixture
def evidence(request: pytest.FixtureRequest) -> Evidence:
    """Record measured figures for the running check; they appear in the score report."""
    return Evidence(_plugin.record_for(request.node.nodeid))


JUDGED = os.environ.get("FAULTLINE_JUDGED") == "1"


def _host(subject: str):
    from faultline_harness.judge import Control

    control = Control.from_environment()
    if control is None:
        pytest.skip("no harness control channel (FAULTLINE_CONTROL_FD unset)")
    client = control.spawn(subject)
    try:
        yield client
    finally:
        client.close()


if JUDGED:
    import random as _random

    VARIANT_SEED = int(
        os.environ.get("FAULTLINE_VARIANT_SEED") or _random.SystemRandom().getrandbits(32)
    )

    def pytest_report_header(config: pytest.Config) -> str:
        return f"faultline variant seed: {VARIANT_SEED}"

    @pytest.fixture
    def variant(request: pytest.FixtureRequest) -> _random.Random:
        """Hidden parameters that vary per run (ids, sizes, orders), so code cannot be written
        for the values of one run: ``variant.randrange(...)``, ``variant.choice(...)``. The seed
        is in the judge's output; FAULTLINE_VARIANT_SEED replays it."""
        return _random.Random(f"{VARIANT_SEED}:{request.node.nodeid}")

    @pytest.fixture
    def candidate():
        """A fresh candidate host running the submitted code (a process and uid of its own)."""
        yield from _host("candidate")

    @pytest.fixture
    def starter():
        """A fresh host running the unmodified starter: the same-run baseline."""
        yield from _host("starter")

    class HostFactory:
        """More hosts for one check (``hosts.candidate()``), each a fresh process and uid,
        all closed when the check ends: e.g. one host per import order."""

        def __init__(self) -> None:
            self.opened: list = []

        def candidate(self):
            return self._open("candidate")

        def starter(self):
            return self._open("starter")

        def _open(self, subject: str):
            from faultline_harness.judge import Control

            control = Control.from_environment()
            if control is None:
                pytest.skip("no harness control channel (FAULTLINE_CONTROL_FD unset)")
            client = control.spawn(subject)
            self.opened.append(client)
            return client

    @pytest.fixture
    def hosts():
        """A factory of fresh candidate and starter hosts for checks that need several."""
        factory = HostFactory()
        try:
            yield factory
        finally:
            for client in factory.opened:
                client.close()

else:

    @pytest.fixture(scope="session")
    def starter() -> Starter:
        """Load the starter's version of a module: ``starter.load("webhooks")``."""
        return _plugin.starter
