"""The candidate host: imports a subject's modules and serves the judge's calls over a socket.

It runs as a uid of its own (one for the candidate, another for the starter baseline), so it can
neither read the hidden tests nor signal or trace the judge. Everything in this process is the
candidate's to change, including this module: the judge trusts nothing it says beyond the plain
data of its answers, and measures memory and time from outside.

Calls are served concurrently: each request runs on its own worker thread, and a coroutine a
call returns is awaited on the host's one event loop (the candidate's loop), so races and a
blocked loop show up as they would in production.

Usage: python -m faultline_harness.host FD   (cwd: the subject's code folder)
"""

from __future__ import annotations

import builtins
import importlib
import inspect
import socket
import sys
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from faultline_harness.wire import WireError, decode_plain, recv_frame, send_frame

if TYPE_CHECKING:
    import asyncio

_set_switch_interval = sys.setswitchinterval
_set_profile = sys.setprofile
_get_profile = sys.getprofile
_sleep = time.sleep
_Barrier = threading.Barrier
"""Taken before any candidate module is imported (see :meth:`Host.answer`)."""

ERROR_TEXT_LIMIT = 500
NOTE_BATCH = 1000
# Calls a host serves at once: a caller held inside the subject (waiting on a lock, a fetch)
# holds one. Threads start only as calls need them; the pids limit still counts each.
WORKER_THREADS = 128


class Host:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.send_lock = threading.Lock()
        self.notes: list[list[Any]] = []
        self.handles: dict[int, Any] = {}
        self.next_handle = 1
        self.handle_lock = threading.Lock()
        self.callbacks: dict[int, _Pending] = {}
        self.next_callback = 1
        self.callback_lock = threading.Lock()
        self.workers = ThreadPoolExecutor(WORKER_THREADS, thread_name_prefix="host")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_lock = threading.Lock()
        self.switch_interval: float | None = None
        self.preempt_every = 0
        self._returns = 0

    # The candidate's event loop -------------------------------------------------------------

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        import asyncio  # on first use: most hosts never need a loop, and it costs 35 ms

        with self._loop_lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def run() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    loop.run_forever()

                threading.Thread(target=run, name="host-loop", daemon=True).start()
                ready.wait()
                self._loop = loop
            return self._loop

    def on_loop(self, function: Any) -> Any:
        """Run ``function()`` on the loop thread and return its result (awaited if a coroutine)."""
        import asyncio

        async def runner() -> Any:
            result = function()
            if inspect.isawaitable(result):
                result = await result
            return result

        return asyncio.run_coroutine_threadsafe(runner(), self.loop).result()

    # Sending ----------------------------------------------------------------------------------

    def send(self, message: dict[str, Any]) -> None:
        """Send ``message``; notifications queued before it go first, in the same frame."""
        with self.send_lock:
            if self.notes:
                message = {**message, "notes": self.notes}
                self.notes = []
            send_frame(self.sock, message)

    def note(self, key: int, args: list[Any]) -> None:
        """Queue a one-way notification; it reaches the judge no later than the next answer."""
        with self.send_lock:
            self.notes.append([key, args])
            if len(self.notes) < NOTE_BATCH:
                return
            notes, self.notes = self.notes, []
            send_frame(self.sock, {"notes": notes})

    def handle_for(self, value: Any) -> dict[str, int]:
        with self.handle_lock:
            number = self.next_handle
            self.next_handle += 1
            self.handles[number] = value
        return {"$h": number}

    def encode(self, value: Any, depth: int = 0) -> Any:
        """Plain data as itself, containers element by element, anything else as a handle."""
        if depth > 64:
            raise ValueError("a result nested deeper than 64 levels cannot be sent")
        if type(value) in _PLAIN:
            return value
        if isinstance(value, bool):
            return bool(value)
        if isinstance(value, int):
            return int(value)
        if isinstance(value, float):
            return float(value)
        if isinstance(value, str):
            return str(value)
        if isinstance(value, bytes | bytearray):
            import base64

            return {"$b": base64.b64encode(bytes(value)).decode()}
        if isinstance(value, list):
            return [self.encode(item, depth + 1) for item in value]
        if isinstance(value, tuple):
            return {"$t": [self.encode(item, depth + 1) for item in value]}
        if isinstance(value, set | frozenset):
            return {"$s": [self.encode(item, depth + 1) for item in value]}
        if isinstance(value, dict):
            if all(type(key) is str for key in value):
                return {"$m": {key: self.encode(item, depth + 1) for key, item in value.items()}}
            return {
                "$d": [
                    [self.encode(k, depth + 1), self.encode(v, depth + 1)] for k, v in value.items()
                ]
            }
        return self.handle_for(value)

    # Receiving --------------------------------------------------------------------------------

    def resolve(self, tag: str, payload: Any, depth: int) -> Any:
        if tag == "$h":
            try:
                return self.handles[payload]
            except (KeyError, TypeError):
                raise WireError(f"unknown handle {payload!r}") from None
        if tag == "$cb":
            return JudgeFunction(self, int(payload))
        if tag == "$acb":
            return AsyncJudgeFunction(self, int(payload))
        if tag == "$call":
            target, attr, args, kwargs = payload
            return self.invoke(
                self.decode(target, depth),
                attr,
                self.decode(args, depth),
                self.decode(kwargs, depth),
            )
        raise WireError(f"unknown tag {tag!r}")

    def decode(self, value: Any, depth: int = 0) -> Any:
        return decode_plain(value, self.resolve, depth)

    def invoke(self, target: Any, attr: str | None, args: list, kwargs: dict) -> Any:
        function = getattr(target, attr) if attr else target
        result = function(*args, **kwargs)
        if inspect.isawaitable(result):
            result = self.await_on_loop(result)
        return result

    def await_on_loop(self, awaitable: Any) -> Any:
        import asyncio

        return asyncio.run_coroutine_threadsafe(_awaited(awaitable), self.loop).result()

    def serve(self) -> None:
        while True:
            message = recv_frame(self.sock)
            if message is None:
                return
            if "cbid" in message:
                pending = self.callbacks.pop(message["cbid"], None)
                if pending is not None:
                    pending.resolve(message)
                continue
            self.workers.submit(self.answer, message)

    def answer(self, message: dict[str, Any]) -> None:
        number = message.get("id")
        if self.switch_interval is not None:
            # A busy server: threads switch every few bytecodes, so an unsynchronised
            # check-then-act is interleaved as it would be under production load. Set again
            # for every request, so module code that resets it does not hide its races.
            _set_switch_interval(self.switch_interval)
        hook = self._preempt if self.preempt_every else None
        if hook is not None:
            _set_profile(hook)
        intact = True
        try:
            result = self.perform(message)
            encoded = list(result) if isinstance(result, _Encoded) else self.encode(result)
            reply = {"id": number, "ok": encoded}
        except BaseException as exc:
            reply = {"id": number, "err": describe_error(exc)}
        finally:
            if hook is not None:
                intact = _get_profile() == hook
                _set_profile(None)
        if not intact:
            reply = {"id": number, "err": {"type": "HostTampered", "message": "", "where": ""}}
        try:
            self.send(reply)
        except (OSError, WireError, ValueError, TypeError) as exc:
            self.send({"id": number, "err": describe_error(exc)})

    def perform(self, message: dict[str, Any]) -> Any:
        op = message.get("op")
        if op == "import":
            return importlib.import_module(str(message["module"]))
        if op == "call":
            target = self.decode(message["target"])
            args = self.decode(message.get("args", []))
            kwargs = self.decode(message.get("kwargs", {"$m": {}}))
            if message.get("loop"):
                # on_loop awaits a coroutine result itself, on the loop (invoke would block it).
                attr = message.get("attr")
                function = getattr(target, attr) if attr else target
                return self.on_loop(lambda: function(*args, **kwargs))
            return self.invoke(target, message.get("attr"), args, kwargs)
        if op == "get":
            return getattr(self.decode(message["target"]), str(message["attr"]))
        if op == "batch":
            results = []
            for call in message["calls"]:
                try:
                    results.append(self.encode(self.decode(call)))
                except Exception as exc:
                    results.append({"$err": describe_error(exc)})
                    if message.get("stop_on_error"):
                        break
            return _Encoded(results)
        if op == "map":
            return self.map(message)
        if op == "cell":
            return Cell(self.decode(message["value"]))
        if op == "notifier":
            return Notifier(self, int(message["key"]), message.get("extract"))
        if op == "release":
            with self.handle_lock:
                for number in message.get("handles", []):
                    self.handles.pop(number, None)
            return None
        if op == "switch_interval":
            self.switch_interval = float(message["seconds"])
            _set_switch_interval(self.switch_interval)
            self.preempt_every = int(message.get("preempt_every", 0))
            return None
        if op == "ping_loop":
            return self.on_loop(lambda: None)
        if op == "barrier":
            return _Barrier(max(1, min(WORKER_THREADS, int(message["parties"]))))
        raise WireError(f"unknown operation {op!r}")

    def _preempt(self, frame: Any, event: str, arg: Any) -> None:
        """Profile hook of request threads under ``busy_server(preempt_every=n)``: every n-th
        return from a built-in call gives up the GIL, as a thread of a loaded server is
        preempted at any point, so a check-then-act with no I/O in between is interleaved."""
        every = self.preempt_every  # 0 once the request that turns preemption off has run
        if event == "c_return" and every:
            self._returns += 1
            if self._returns % every == 0:
                _sleep(0)

    def map(self, message: dict[str, Any]) -> _Encoded:
        """``function(wrap(*item))`` (or ``function(*item)``) for each item, in order, with
        ``before()`` ahead of each call; one result or error per item."""
        target = self.decode(message["target"])
        function = getattr(target, message["attr"]) if message.get("attr") else target
        wrap = self.decode(message["wrap"]) if message.get("wrap") is not None else None
        before = None
        if message.get("before") is not None:
            owner, attr, arguments = message["before"]
            before_target = self.decode(owner)
            before = getattr(before_target, attr) if attr else before_target
            before_args = self.decode(arguments)
        items = message["items"] if message.get("raw") else self.decode(message["items"])
        results = _Encoded()
        append, encode = results.append, self.encode
        for item in items:
            try:
                if before is not None:
                    before(*before_args)
                result = function(wrap(*item)) if wrap is not None else function(*item)
                if type(result) not in _PLAIN and inspect.isawaitable(result):
                    result = self.await_on_loop(result)
                append(encode(result))
            except Exception as exc:
                append({"$err": describe_error(exc)})
        return results

    def call_judge(self, key: int, args: tuple, kwargs: dict) -> _Pending:
        with self.callback_lock:
            number = self.next_callback
            self.next_callback += 1
            pending = _Pending()
            self.callbacks[number] = pending
        self.send(
            {
                "cb": key,
                "cbid": number,
                "args": [self.encode(a) for a in args],
                "kwargs": {"$m": {k: self.encode(v) for k, v in kwargs.items()}},
            }
        )
        return pending


class _Encoded(list):
    """A result already in wire form (a batch's list), sent as it is."""


class _Pending:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.reply: dict[str, Any] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self.future: asyncio.Future | None = None

    def resolve(self, reply: dict[str, Any]) -> None:
        self.reply = reply
        self.done.set()
        if self.loop is not None and self.future is not None:
            self.loop.call_soon_threadsafe(_set_result, self.future, reply)


def _set_result(future: asyncio.Future, reply: dict[str, Any]) -> None:
    if not future.done():
        future.set_result(reply)


def _outcome(host: Host, reply: dict[str, Any]) -> Any:
    if "err" in reply:
        error = reply["err"] if isinstance(reply["err"], dict) else {}
        name = str(error.get("type", "RuntimeError"))
        kind = getattr(builtins, name, None)
        if not (isinstance(kind, type) and issubclass(kind, Exception)):
            kind = RuntimeError
        raise kind(str(error.get("message", "")))
    return host.decode(reply.get("ok"))


class JudgeFunction:
    """A judge-side callable (a handler, a clock, a provider): each call is a round trip."""

    def __init__(self, host: Host, key: int) -> None:
        self._host, self._key = host, key

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        pending = self._host.call_judge(self._key, args, kwargs)
        pending.done.wait()
        return _outcome(self._host, pending.reply)


class AsyncJudgeFunction(JudgeFunction):
    """A judge-side coroutine function: awaiting a call waits for the judge's answer."""

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        import asyncio

        loop = asyncio.get_running_loop()
        future = loop.create_future()
        with self._host.callback_lock:
            number = self._host.next_callback
            self._host.next_callback += 1
            pending = _Pending()
            pending.loop, pending.future = loop, future
            self._host.callbacks[number] = pending
        self._host.send(
            {
                "cb": self._key,
                "cbid": number,
                "args": [self._host.encode(a) for a in args],
                "kwargs": {"$m": {k: self._host.encode(v) for k, v in kwargs.items()}},
            }
        )
        reply = await future
        return _outcome(self._host, reply)


class Notifier:
    """A one-way judge callable: each call is reported to the judge, nothing comes back.

    ``extract`` names an attribute of the first argument to send instead of the argument (an
    event's id); other non-data arguments are sent as their type's name, never as handles, so
    notifications hold no memory in the host.
    """

    def __init__(self, host: Host, key: int, extract: str | None) -> None:
        self._host, self._key, self._extract = host, key, extract

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        if self._extract and len(args) == 1:
            self._host.note(self._key, [_plain_or_name(getattr(args[0], self._extract))])
            return
        values = list(args)
        if self._extract and values:
            values[0] = getattr(values[0], self._extract)
        self._host.note(self._key, [_plain_or_name(v) for v in values])


_PLAIN = frozenset({bool, int, float, str, type(None)})


def _plain_or_name(value: Any) -> Any:
    if type(value) in _PLAIN:
        return value
    return {"$m": {"type": type(value).__name__}}


class Cell:
    """A value the judge owns and sets (a clock's time); calling it returns the value."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __call__(self) -> Any:
        return self.value

    def set(self, value: Any) -> None:
        self.value = value

    def advance(self, step: float) -> Any:
        self.value += step
        return self.value


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


def describe_error(exc: BaseException) -> dict[str, str]:
    frames = traceback.extract_tb(exc.__traceback__)
    where = ""
    for frame in reversed(frames):
        if "faultline_harness" not in frame.filename:
            where = f"{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno}"
            break
    return {
        "type": type(exc).__name__[:100],
        "message": str(exc)[:ERROR_TEXT_LIMIT],
        "where": where[:200],
    }


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    sock = socket.socket(fileno=int(argv[0]))
    sys.path.insert(0, ".")
    host = Host(sock)
    try:
        host.serve()
    except WireError:
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
