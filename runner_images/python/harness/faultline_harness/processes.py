"""What every process the harness starts for code it does not trust gets: limits, environment."""

from __future__ import annotations

import resource

FILE_SIZE_LIMIT = 64 * 1024 * 1024
HOST_UIDS = range(100_000, 165_536)
"""Each host runs as a fresh uid drawn from here, owning nothing in the container."""


def limit_process(pids: int | None) -> None:
    """No core dumps, bounded files and descriptors, a share of the process limit (``pids``,
    per uid), and first in line for the OOM killer."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT, FILE_SIZE_LIMIT))
    resource.setrlimit(resource.RLIMIT_NOFILE, (512, 512))
    if pids is not None:
        resource.setrlimit(resource.RLIMIT_NPROC, (max(8, pids - 8), max(8, pids - 8)))
    try:
        with open("/proc/self/oom_score_adj", "w") as handle:
            handle.write("1000")
    except OSError:
        pass


def base_environment(**extra: str) -> dict[str, str]:
    """The whole environment of a judge or host process: nothing inherited from the harness."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": "/tmp",
        "TMPDIR": "/tmp",
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        **extra,
    }
