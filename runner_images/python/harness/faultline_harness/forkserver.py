"""Start candidate hosts by forking a warm interpreter instead of starting a new one.

A judged run starts two hosts for most checks (the candidate and the starter baseline), and a
new interpreter that imports the harness and the libraries the challenge uses (SQLAlchemy, say)
costs a few hundred milliseconds of the run's CPU quota each time. The harness starts this
process once per run, as root and before any candidate code exists in a process: it imports the
host and the libraries the starter imports (from the standard library and the image's
site-packages only; the job's folders are not on its path), and then forks one child per host.
A child drops to the host's fresh uid, keeps only its socket and its output, and only then
imports the subject's modules, exactly as a host started from scratch would.

It must stay single-threaded (a fork copies one thread only), so it refuses to serve when a
preloaded library started a thread, and the harness starts hosts from scratch instead.

Protocol (SOCK_SEQPACKET, one JSON request a packet, the host's socket and its output as fds):
    {"uid": int | null, "code_dir": str, "env": {...}, "pids": int | null} -> {"pid": int}

Usage: python -m faultline_harness.forkserver FD [MODULE ...]
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import signal
import socket
import sys
import threading

from faultline_harness import host as _host
from faultline_harness.processes import HOST_UIDS, limit_process

HOST_FD = 3
READY = b'{"ready": true}'


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    control = socket.socket(fileno=int(argv[0]))
    for name in argv[1:]:
        with contextlib.suppress(Exception):
            importlib.import_module(name)
    if threading.active_count() != 1:
        control.send(b'{"ready": false, "why": "a preloaded module started a thread"}')
        return 1
    base_path = [entry for entry in sys.path if entry not in ("", os.getcwd())]
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # hosts are reaped by the kernel
    control.send(READY)
    while True:
        try:
            data, fds, _, _ = socket.recv_fds(control, 65536, 2)
        except OSError:
            return 0
        if not data:
            return 0
        try:
            request = json.loads(data)
            if len(fds) != 2:
                raise ValueError("a host needs its socket and its output")
            pid = os.fork()
        except (ValueError, OSError) as exc:
            for fd in fds:
                os.close(fd)
            control.send(json.dumps({"error": str(exc)[:300]}).encode())
            continue
        if pid == 0:
            code = 70
            try:
                code = _become_host(control, request, fds[0], fds[1], base_path)
            finally:
                os._exit(code)
        for fd in fds:
            os.close(fd)
        control.send(json.dumps({"pid": pid}).encode())


def _become_host(
    control: socket.socket, request: dict, host_fd: int, output_fd: int, base_path: list[str]
) -> int:
    """In the forked child: become the host a fresh ``python -m faultline_harness.host`` is."""
    control.close()
    os.setsid()
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.dup2(output_fd, 1)
    os.dup2(output_fd, 2)
    os.dup2(host_fd, HOST_FD)
    os.closerange(HOST_FD + 1, os.sysconf("SC_OPEN_MAX"))
    limit_process(request.get("pids"))
    uid = request.get("uid")
    if uid is not None:
        if int(uid) not in HOST_UIDS:
            return 71
        os.setgroups([])
        os.setgid(int(uid))
        os.setuid(int(uid))
    code_dir = str(request["code_dir"])
    os.chdir(code_dir)
    os.environ.clear()
    os.environ.update({str(k): str(v) for k, v in request["env"].items()})
    sys.path[:] = [code_dir, *base_path]
    sys.argv[:] = ["faultline_harness.host", str(HOST_FD)]
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    return _host.main([str(HOST_FD)])


if __name__ == "__main__":
    sys.exit(main())
