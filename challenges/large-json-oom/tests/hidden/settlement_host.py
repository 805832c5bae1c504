"""The settlement import in a candidate host, driven from the judge.

The judge writes every export itself (``conftest.py``) and hands the host its path; what comes
back is plain data: the summary's fields, read one by one. Whether an exception is an
``ExportError`` is asked of the host (``isinstance`` against the read-only ``exports`` module's
class), since the judge only ever sees a name for it. Messages are the judge's words: a name the
candidate's code chose (an exception class of its own, a string it returned) is not repeated.
"""

from __future__ import annotations

import builtins
import contextlib
from dataclasses import dataclass
from typing import Any

from faultline_harness.judge import HostClient, HostFailure, HostTimeout, Remote, RemoteError

FIELDS = ("batch_id", "currency", "records", "invalid", "totals")
CALL_SECONDS = 30.0  # a guard against a hang, not a speed requirement
# Exception names a message may show besides the builtins': the parsers' own.
KNOWN_ERRORS = frozenset({"ExportError", "JSONDecodeError", "JSONError", "IncompleteJSONError"})


def error_name(name: str) -> str:
    """How a failure is named in a message: a builtin's or a known parser's name, else a phrase."""
    kind = getattr(builtins, name, None)
    if name in KNOWN_ERRORS or (isinstance(kind, type) and issubclass(kind, BaseException)):
        return name
    return "an exception of its own class"


def failure_text(error: BaseException, seconds: float) -> str:
    """What went wrong with a call, in the judge's words."""
    if isinstance(error, RemoteError):
        return f"raised {error_name(error.type_name)}"
    if isinstance(error, HostTimeout):
        return f"did not finish within {seconds:g} s"
    return "stopped answering (the host process went away: out of memory, or it exited)"


@dataclass
class Outcome:
    summary: dict[str, Any] | None  # the summary's fields, when the call returned one
    error: str  # what went wrong instead (empty when ``summary`` is set)


class Settlement:
    """The candidate's (or the starter's) ``settlement`` module in one host."""

    def __init__(self, host: HostClient) -> None:
        self.host = host
        self.module = host.module("settlement")
        self._builtins: Remote | None = None

    @property
    def builtins(self) -> Remote:
        if self._builtins is None:
            self._builtins = self.host.module("builtins")
        return self._builtins

    def start(self, path: str, *, as_path: bool = False) -> Any:
        """Start ``summarize_export(path)`` (with a ``pathlib.Path`` built in the host when
        ``as_path``); the answer's ``result(timeout)`` is the summary's handle."""
        argument: Any = path
        if as_path:
            argument = self.host.module("pathlib").Path(path)
        return self.module.summarize_export.start(argument)

    def summarize(
        self, path: str, *, as_path: bool = False, seconds: float = CALL_SECONDS
    ) -> Outcome:
        return self.finish(self.start(path, as_path=as_path), seconds)

    def finish(self, answer: Any, seconds: float = CALL_SECONDS) -> Outcome:
        """Wait for a started call and read the summary it returned."""
        try:
            return self.read(answer.result(seconds))
        except (RemoteError, HostFailure) as error:
            return Outcome(None, failure_text(error, seconds))

    def read(self, result: Any) -> Outcome:
        """The fields of a returned summary, as plain data."""
        if not isinstance(result, Remote):
            kind = "None" if result is None else f"a plain {type(result).__name__}"
            return Outcome(None, f"returned {kind} instead of a SettlementSummary")
        fields: dict[str, Any] = {}
        for name in FIELDS:
            try:
                fields[name] = getattr(result, name).get()
                if name == "totals" and isinstance(fields[name], Remote):
                    fields[name] = self.builtins.dict(fields[name])  # a mapping of its own
            except RemoteError:
                return Outcome(None, f"returned a summary whose {name} cannot be read")
        return Outcome(fields, "")

    def rejection_problem(self, path: str) -> str:
        """Empty when ``summarize_export(path)`` raises ``ExportError`` (or a subclass of it);
        otherwise what it did instead.

        The call runs on a plain ``concurrent.futures`` worker thread of the host, whose future
        hands the exception back as an object, so the host can answer ``isinstance`` on it.
        """
        export_error = self.host.module("exports").ExportError.get()
        executor = self.host.module("concurrent.futures").ThreadPoolExecutor(1)
        try:
            future = executor.submit(self.module.summarize_export.get(), path)
            try:
                raised = future.exception.start(CALL_SECONDS).result(CALL_SECONDS + 5)
            except RemoteError:  # the host's future timed out
                return f"did not finish within {CALL_SECONDS:g} s"
            if raised is None:
                outcome = self.read(future.result())
                if outcome.summary is None:
                    return f"{outcome.error} instead of raising ExportError"
                records = outcome.summary["records"]
                return f"accepted ({_count(records)} records) instead of raising ExportError"
            if self.builtins.isinstance(raised, export_error) is True:
                return ""
            name = self.builtins.getattr(self.builtins.type(raised), "__name__")
            if name == "ExportError":
                return "raised an ExportError of its own, not the one in exports.py"
            shown = error_name(name) if isinstance(name, str) else "an exception"
            return f"raised {shown} instead of ExportError"
        except (RemoteError, HostFailure) as error:
            return failure_text(error, CALL_SECONDS)
        finally:
            with contextlib.suppress(HostFailure):
                executor.shutdown.start(wait=False)


def _count(value: Any) -> str:
    return f"{value:,}" if type(value) is int else "an unreadable number of"
