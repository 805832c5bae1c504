"""The harness's side of judged runs: starts candidate hosts and measures them from outside.

The judge asks over its control channel (a SOCK_SEQPACKET socket, one JSON request a packet):

    spawn {subject}          a fresh host process (fresh uid) for "candidate" or "starter";
                             the reply carries the judge's end of a socketpair to it
    memory {host, reset_peak}  RSS summed over every process of the host's uid (children and
                             orphans too), the peak the sampler saw, scratch-file usage, and
                             CPU seconds (live processes and the children they waited for)
    pause / resume {host}    SIGSTOP / SIGCONT every process of the host
    close {host}             kill every process of the host

Processes are found by uid in /proc, which candidate code cannot hide from or reset: a forked
child, a double-forked orphan, an mmap, a ctypes buffer and an in-memory database all count.
Without uid switching (the local backend) a host's processes are those of its session.

Hosts are forked from a warm interpreter (forkserver.py) that has already imported the harness
and the libraries the starter uses; where that is not possible, a host starts from scratch.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from faultline_harness.processes import HOST_UIDS, base_environment, limit_process

SAMPLE_SECONDS = 0.005
SCRATCH_MOUNTS = ("/tmp", "/dev/shm")


@dataclass
class HostProcess:
    number: int
    subject: str
    pid: int
    uid: int | None
    started_cold: subprocess.Popen | None = None  # None: forked by the fork server
    peak: int = 0
    tracking: bool = False
    paused: bool = False
    scratch_base: int = 0


class ForkServer:
    """The harness's end of forkserver.py."""

    READY_SECONDS = 20.0

    def __init__(self, python: str, harness_dir: Path, preload: list[str]) -> None:
        self.sock, server_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.sock.settimeout(self.READY_SECONDS)
        # -s: no user site-packages, whose .pth files a host could have planted under $HOME
        command = [python, "-s", "-m", "faultline_harness.forkserver", str(server_end.fileno())]
        self.process = subprocess.Popen(
            [*command, *preload],
            cwd="/",
            env=base_environment(PYTHONUNBUFFERED="1", PYTHONPATH=str(harness_dir)),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(server_end.fileno(),),
            start_new_session=True,
        )
        server_end.close()
        self.ready: bool | None = None

    def fork(self, request: dict[str, Any], host_fd: int, output_fd: int) -> int:
        """Fork a host for ``request``; its pid. OSError when the server cannot."""
        if self.ready is None:
            self.ready = bool(self._receive().get("ready"))
        if not self.ready:
            raise OSError("the fork server is not serving")
        socket.send_fds(self.sock, [json.dumps(request).encode()], [host_fd, output_fd])
        reply = self._receive()
        if not isinstance(reply.get("pid"), int):
            raise OSError(f"the fork server did not fork: {reply.get('error', reply)}")
        return reply["pid"]

    def _receive(self) -> dict[str, Any]:
        try:
            data = self.sock.recv(65536)
            reply = json.loads(data) if data else {}
        except (OSError, ValueError):
            reply = {}
        if not reply:
            self.ready = False
        return reply if isinstance(reply, dict) else {}

    def close(self) -> None:
        self.sock.close()
        with contextlib.suppress(OSError):
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=2)


@dataclass
class HostManager:
    job_dir: Path
    python: str
    harness_dir: Path
    switch_users: bool
    output_fd: int
    pids: int
    hosts: dict[int, HostProcess] = field(default_factory=dict)
    used_uids: set[int] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)
    forkserver: ForkServer | None = None
    _sampler: threading.Thread | None = None
    _stop: threading.Event = field(default_factory=threading.Event)

    def start_forkserver(self) -> None:
        """Warm up the fork server now, while the judge starts, with the starter's libraries."""
        preload = library_modules(self.job_dir / "starter", self.job_dir / "src")
        self.forkserver = ForkServer(self.python, self.harness_dir, preload)

    def handle(self, sock: socket.socket) -> None:
        """Answer one request from the judge's control channel."""
        data = sock.recv(65536)
        if not data:
            raise EOFError
        fds: list[int] = []
        try:
            request = json.loads(data)
            reply, fds = self._perform(request)
        except (ValueError, KeyError, TypeError, OSError) as exc:
            reply = {"error": str(exc)[:300]}
        try:
            socket.send_fds(sock, [json.dumps(reply).encode()], fds)
        finally:
            for fd in fds:
                os.close(fd)

    def _perform(self, request: dict[str, Any]) -> tuple[dict[str, Any], list[int]]:
        op = request["op"]
        if op == "spawn":
            subject = request["subject"]
            if subject not in ("candidate", "starter"):
                raise ValueError(f"unknown subject {subject!r}")
            host, judge_end = self.spawn(subject)
            return {"host": host.number, "pid": host.pid}, [judge_end]
        host = self.hosts[int(request["host"])]
        if op == "memory":
            return self.memory(host, bool(request.get("reset_peak"))), []
        if op == "pause":
            self._signal(host, signal.SIGSTOP)
            host.paused = True
            return {"ok": True}, []
        if op == "resume":
            self._signal(host, signal.SIGCONT)
            host.paused = False
            return {"ok": True}, []
        if op == "close":
            self.close(host)
            return {"ok": True}, []
        raise ValueError(f"unknown operation {op!r}")

    def spawn(self, subject: str) -> tuple[HostProcess, int]:
        host_end, judge_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        uid = self._fresh_uid() if self.switch_users else None
        code_dir = self.job_dir / ("src" if subject == "candidate" else "starter")
        env = base_environment(
            PYTHONUNBUFFERED="1", PYTHONPATH=f"{code_dir}{os.pathsep}{self.harness_dir}"
        )
        output_fd = self.output_fd if subject == "candidate" else os.open(os.devnull, os.O_WRONLY)
        try:
            pid, cold = self._fork(uid, code_dir, env, host_end, output_fd)
        finally:
            host_end.close()
            if output_fd != self.output_fd:
                os.close(output_fd)
        with self.lock:
            number = len(self.hosts) + 1
            host = HostProcess(number, subject, pid, uid, cold, scratch_base=_scratch_bytes())
            self.hosts[number] = host
        self._ensure_sampler()
        return host, judge_end.detach()

    def _fork(
        self, uid: int | None, code_dir: Path, env: dict[str, str], host_end, output_fd: int
    ) -> tuple[int, subprocess.Popen | None]:
        """A host from the fork server; from scratch when the server cannot serve."""
        if self.forkserver is not None and self.forkserver.ready is not False:
            request = {"uid": uid, "code_dir": str(code_dir), "env": env, "pids": self.pids}
            with contextlib.suppress(OSError):
                return self.forkserver.fork(request, host_end.fileno(), output_fd), None
        kwargs: dict[str, Any] = {}
        if uid is not None:
            kwargs.update(user=uid, group=uid, extra_groups=[])
        process = subprocess.Popen(
            [self.python, "-m", "faultline_harness.host", str(host_end.fileno())],
            cwd=code_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output_fd,
            stderr=output_fd,
            pass_fds=(host_end.fileno(),),
            start_new_session=True,
            preexec_fn=lambda: limit_process(self.pids),
            **kwargs,
        )
        return process.pid, process

    def _fresh_uid(self) -> int:
        while True:
            uid = HOST_UIDS[secrets.randbelow(len(HOST_UIDS))]
            if uid not in self.used_uids and uid != os.getuid():
                self.used_uids.add(uid)
                return uid

    def memory(self, host: HostProcess, reset_peak: bool) -> dict[str, Any]:
        rss, count = self._rss(host)
        cpu = self._cpu_seconds(host)
        scratch = max(0, _scratch_bytes() - host.scratch_base) if self.switch_users else 0
        with self.lock:
            if reset_peak or not host.tracking:
                host.peak = rss
                host.tracking = True
            host.peak = max(host.peak, rss)
            peak = host.peak
        return {"rss": rss, "peak": peak, "scratch": scratch, "processes": count, "cpu": cpu}

    def _cpu_seconds(self, host: HostProcess) -> float:
        """CPU time of the host's live processes and of the children they have waited for."""
        ticks = 0
        for pid in self._pids(host):
            with contextlib.suppress(OSError, ValueError, IndexError):
                with open(f"/proc/{pid}/stat", "rb") as handle:
                    text = handle.read()
                fields = text[text.rindex(b")") + 2 :].split()
                ticks += sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
        return round(ticks / os.sysconf("SC_CLK_TCK"), 3)

    def close(self, host: HostProcess) -> None:
        with self.lock:
            host.tracking = False
        for attempt in range(5):
            if not self._signal(host, signal.SIGKILL):
                break
            if attempt == 0:
                self._wait_gone(host, timeout=2.0)
            else:
                time.sleep(0.01)  # a child forked while we were killing its parent

    def _wait_gone(self, host: HostProcess, timeout: float) -> None:
        if host.started_cold is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                host.started_cold.wait(timeout=timeout)
            return
        deadline = time.monotonic() + timeout  # forked hosts are reaped by the fork server
        while self._pids(host) and time.monotonic() < deadline:
            time.sleep(0.005)

    def close_all(self) -> None:
        self._stop.set()
        for host in list(self.hosts.values()):
            self.close(host)
        if self.forkserver is not None:
            self.forkserver.close()

    def _signal(self, host: HostProcess, number: int) -> int:
        sent = 0
        for pid in self._pids(host):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, number)
                sent += 1
        return sent

    def _pids(self, host: HostProcess) -> list[int]:
        found = []
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            pid = int(entry.name)
            if pid == os.getpid():
                continue
            try:
                state, session = _state_and_session(pid)
                if state == b"Z":
                    continue  # dead, waiting to be reaped: no memory, nothing to signal
                if host.uid is not None:
                    if _real_uid(pid) == host.uid:
                        found.append(pid)
                elif session == host.pid:
                    found.append(pid)
            except (OSError, ValueError, IndexError):
                continue
        return found

    def _rss(self, host: HostProcess) -> tuple[int, int]:
        total, count = 0, 0
        for pid in self._pids(host):
            try:
                total += _rss_bytes(pid)
                count += 1
            except (OSError, ValueError):
                continue
        return total, count

    def _ensure_sampler(self) -> None:
        if self._sampler is None:
            self._sampler = threading.Thread(target=self._sample, name="sampler", daemon=True)
            self._sampler.start()

    def _sample(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            with self.lock:
                tracked = [h for h in self.hosts.values() if h.tracking]
            for host in tracked:
                rss, _ = self._rss(host)
                with self.lock:
                    if host.tracking:
                        host.peak = max(host.peak, rss)


def _real_uid(pid: int) -> int:
    with open(f"/proc/{pid}/status", "rb") as handle:
        for line in handle:
            if line.startswith(b"Uid:"):
                return int(line.split()[1])
    raise ValueError("no Uid line")


def _state_and_session(pid: int) -> tuple[bytes, int]:
    with open(f"/proc/{pid}/stat", "rb") as handle:
        text = handle.read()
    fields = text[text.rindex(b")") + 2 :].split()
    return fields[0], int(fields[3])


def _rss_bytes(pid: int) -> int:
    """Resident memory of one process: anonymous, file-backed and shared pages."""
    with open(f"/proc/{pid}/statm", "rb") as handle:
        fields = handle.read().split()
    return int(fields[1]) * os.sysconf("SC_PAGE_SIZE")


def _scratch_bytes() -> int:
    total = 0
    for mount in SCRATCH_MOUNTS:
        with contextlib.suppress(OSError):
            info = os.statvfs(mount)
            total += (info.f_blocks - info.f_bfree) * info.f_frsize
    return total


def library_modules(starter_dir: Path, *local_dirs: Path) -> list[str]:
    """The modules the starter imports from outside the job: the standard library's and the
    image's, never a module of the job's own folders (which a candidate can add to)."""
    local: set[str] = set()
    for folder in (starter_dir, *local_dirs):
        with contextlib.suppress(OSError):
            local.update(entry.name.removesuffix(".py") for entry in os.scandir(folder))
    names: set[str] = set()
    for path in sorted(starter_dir.rglob("*.py")):
        try:
            tree = ast.parse(path.read_bytes())
        except (SyntaxError, ValueError, OSError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module)
    return sorted(
        name
        for name in names
        if name.split(".")[0] not in local and name.split(".")[0] != "faultline_harness"
    )
