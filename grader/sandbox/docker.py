"""The production backend: one fresh, locked-down container per run, always removed."""

from __future__ import annotations

import contextlib
import io
import secrets
import tarfile
import time
from datetime import UTC, datetime

import docker
import requests
from docker.errors import APIError, DockerException, ImageNotFound, NotFound
from docker.types import LogConfig, Mount

from grader import images
from grader.report import RunOutcome, parse_record
from grader.sandbox.base import RESULTS_LIMIT_BYTES, SCRATCH_MB, SHM_MB, STARTUP_GRACE_SECONDS
from grader.spec import Limits
from grader.workspace import Workspace

LABEL = "faultline.sandbox"
CANDIDATE_UIDS = range(100_000, 165_536)
"""Each run's candidate code gets its own uid, so per-user kernel limits (processes) and
signals never reach another grade running at the same time."""
JUDGE_UIDS = range(170_000, 175_000)
"""The judge's uid (judged runs): outside the candidates' range, so no host ever shares it."""
VENV_PYTHON = "/opt/venv/bin/python"
RESULTS_FILE = "/results/results.json"
RECORD_UNWRITABLE_EXIT = 75  # the harness's exit when it cannot write RESULTS_FILE
KILLED_EXITS = (128 + 9, 128 + 15)  # SIGKILL, SIGTERM
HARNESS_PATH = "/opt/faultline/harness"


class DockerSandbox:
    name = "docker"
    isolated = True

    def __init__(self, image: str | None = None, client: docker.DockerClient | None = None) -> None:
        self.image = image or images.runner_image_tag()
        self._client = client

    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            self._client = docker.from_env(version="auto", timeout=60)
        return self._client

    def unavailable_reason(self) -> str | None:
        """Why this backend cannot run now, or None when the engine and image are ready."""
        try:
            self.client.ping()
        except (DockerException, requests.RequestException) as exc:
            return f"no Docker engine answers ({_short(exc)}); start one with `make docker`"
        try:
            self.client.images.get(self.image)
        except ImageNotFound:
            return f"the runner image {self.image} is missing; build it with `make image`"
        except (DockerException, requests.RequestException) as exc:
            return f"the Docker engine failed to look up the runner image ({_short(exc)})"
        return None

    def run(self, workspace: Workspace, limits: Limits, label: str = "") -> RunOutcome:
        started = time.monotonic()
        try:
            container = self._create(limits, label)
        except ImageNotFound:
            return self._infra(
                f"the runner image {self.image} is missing; build it with `make image`"
            )
        except (DockerException, requests.RequestException) as exc:
            problem = self.unavailable_reason()
            return self._infra(problem or f"could not create the sandbox container ({_short(exc)})")
        timed_out = False
        try:
            container.put_archive("/job", workspace.to_tar())
            container.start()
            try:
                container.wait(timeout=limits.wall_seconds + STARTUP_GRACE_SECONDS)
            except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
                # wait() only stops waiting: the container must be killed from outside.
                timed_out = True
                _kill(container)
                container.wait(timeout=30)
            seconds = time.monotonic() - started
            container.reload()
            state = container.attrs["State"]
            oom_killed = bool(state.get("OOMKilled"))
            raw, problem = _read_results(container)
            if raw is None:
                platform_fault = _platform_fault(state, timed_out or oom_killed)
                if platform_fault:
                    return self._infra(f"{platform_fault}; harness log: {_log_tail(container)}")
                problem = f"{problem}; harness log: {_log_tail(container)}"
        except (DockerException, requests.RequestException) as exc:
            return self._infra(f"the sandbox failed while running ({_short(exc)})")
        finally:
            _remove(container)
        record = None
        if raw is not None:
            try:
                record = parse_record(raw).model_dump()
            except ValueError as exc:
                problem = str(exc)
        return RunOutcome(
            backend=self.name,
            image=self.image,
            record=record,
            timed_out=timed_out,
            oom_killed=oom_killed,
            record_problem=problem,
            seconds=seconds,
        )

    def _create(self, limits: Limits, label: str):
        memory = f"{limits.memory_mb}m"
        uid = CANDIDATE_UIDS[secrets.randbelow(len(CANDIDATE_UIDS))]
        judge_uid = JUDGE_UIDS[secrets.randbelow(len(JUDGE_UIDS))]
        return self.client.containers.create(
            self.image,
            command=[
                VENV_PYTHON,
                "-m",
                "faultline_harness",
                "/job",
                RESULTS_FILE,
                "--as-user",
                f"{uid}:{uid}",
                "--judge-user",
                f"{judge_uid}:{judge_uid}",
                "--python",
                VENV_PYTHON,
            ],
            user="0:0",
            working_dir="/",
            environment={"PYTHONPATH": HARNESS_PATH},
            hostname="sandbox",
            network_mode="none",
            read_only=True,
            tmpfs={"/tmp": f"rw,nosuid,nodev,size={SCRATCH_MB}m,mode=1777"},
            mounts=self._volumes(),
            shm_size=f"{SHM_MB}m",
            mem_limit=memory,
            memswap_limit=memory,
            pids_limit=limits.pids,
            nano_cpus=int(limits.cpus * 1_000_000_000),
            cap_drop=["ALL"],
            # CHOWN: the harness hands the hidden tests to the judge's uid (put_archive cannot).
            cap_add=["SETUID", "SETGID", "KILL", "CHOWN"],
            security_opt=["no-new-privileges"],
            log_config=LogConfig(type="json-file", config={"max-size": "256k", "max-file": "1"}),
            labels={
                LABEL: "1",
                "faultline.label": label[:100],
                "faultline.created": datetime.now(UTC).isoformat(timespec="seconds"),
            },
            detach=True,
        )

    def _volumes(self) -> list[Mount]:
        """The job's files and the harness's results: fresh anonymous volumes, removed with
        the container."""
        return [
            Mount(target="/job", source=None, type="volume"),
            Mount(target="/results", source=None, type="volume"),
        ]

    def _infra(self, reason: str) -> RunOutcome:
        return RunOutcome(
            backend=self.name, image=self.image, record=None, infra_error=reason, seconds=0.0
        )


def _platform_fault(state: dict, stopped_for_a_limit: bool) -> str | None:
    """Why a run that left no record is the platform's fault, or None when it may be the code's.

    The harness is the container's first process and runs as root; candidate code runs under
    another uid and cannot signal it. So a harness killed by a signal we did not send (our own
    kill is the time limit; the kernel's is an OOM, which Docker reports) was stopped from
    outside, e.g. by the Docker engine shutting down, and a harness that exits with
    RECORD_UNWRITABLE_EXIT could not write to the platform's results volume (a full disk).
    """
    code = state.get("ExitCode")
    if code == RECORD_UNWRITABLE_EXIT:
        return "the sandbox could not write its result record (is the Docker volume disk full?)"
    if code in KILLED_EXITS and not stopped_for_a_limit:
        return f"the sandbox was stopped from outside while it ran (exit {code})"
    return None


def _read_results(container) -> tuple[bytes | None, str | None]:
    """Fetch the results file as a tar entry: a regular file, size-capped, no link followed."""
    try:
        stream, stat = container.get_archive(RESULTS_FILE)
    except NotFound:
        return None, "the run left no result record"
    if stat.get("linkTarget"):
        return None, "the result record was replaced by a link; it is not trusted"
    if int(stat.get("size", 0)) > RESULTS_LIMIT_BYTES:
        return None, "the result record is larger than allowed"
    buffer = io.BytesIO()
    for chunk in stream:
        buffer.write(chunk)
        if buffer.tell() > RESULTS_LIMIT_BYTES + 64 * 1024:
            return None, "the result record is larger than allowed"
    buffer.seek(0)
    with tarfile.open(fileobj=buffer) as archive:
        members = archive.getmembers()
        if len(members) != 1 or not members[0].isreg():
            return None, "the result record is not a plain file; it is not trusted"
        handle = archive.extractfile(members[0])
        return (handle.read(RESULTS_LIMIT_BYTES + 1) if handle else None), None


def _log_tail(container, limit: int = 400) -> str:
    try:
        text = container.logs(tail=20).decode("utf-8", "replace").strip()
    except (DockerException, requests.RequestException):
        return "unavailable"
    return text[-limit:] or "empty"


def _kill(container) -> None:
    with contextlib.suppress(NotFound, APIError):
        container.kill()


def _remove(container) -> None:
    try:
        container.remove(force=True, v=True)
    except NotFound:
        pass
    except (DockerException, requests.RequestException):
        time.sleep(1)
        # Still failing: the container keeps its label, and prune_leftovers() removes it later.
        with contextlib.suppress(DockerException, requests.RequestException):
            container.remove(force=True, v=True)


def prune_leftovers(
    client: docker.DockerClient | None = None, older_than_seconds: float = 0.0
) -> int:
    """Remove sandbox containers older than ``older_than_seconds``; returns how many.

    A live grade removes its own container, so one older than any grade can run was left by a
    crashed worker. Age, not state, decides: a container another worker has just created (and
    not yet started) must never be taken for a leftover.
    """
    client = client or docker.from_env(version="auto")
    removed = 0
    now = datetime.now(UTC)
    for container in client.containers.list(all=True, filters={"label": LABEL}):
        created = container.labels.get("faultline.created", "")
        try:
            age = (now - datetime.fromisoformat(created)).total_seconds()
        except ValueError:
            age = float("inf")
        if age < older_than_seconds:
            continue
        _remove(container)
        removed += 1
    return removed


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]
