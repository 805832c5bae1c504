"""Assemble what one sandbox run sees: the candidate's files, the starter, the tests, the job.

The layout (under ``/job`` in the container, a temporary folder for the local backend)::

    src/        the candidate's editable files, with the read-only files from the starter
    starter/    the unmodified starter, for baselines measured in the same run
    tests/      the tests of the chosen mode (judged hidden runs: readable by the judge only)
    judge/      the judge's private scratch folder (judged hidden runs)
    job.json    what the harness must run: check ids, pytest nodes, time limits

Files are only ever written from this in-memory description, so nothing the candidate sends can
name a path outside the job, and no link is ever followed.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from grader.spec import Challenge, safe_relative_path

Mode = Literal["hidden", "visible"]

MAX_SUBMITTED_FILE_BYTES = 256 * 1024
MAX_SUBMISSION_BYTES = 1024 * 1024
ROOT_UID = 0


class SubmissionRejected(ValueError):
    """The candidate's files cannot be graded; the message says why, for the candidate."""


def validate_submission(challenge: Challenge, files: dict[str, bytes | str]) -> dict[str, str]:
    """Check names, sizes and encoding of submitted files; return them as text.

    Only files the challenge marks editable are accepted; editable files not sent keep their
    starter content.
    """
    editable = challenge.spec.editable_paths
    if not files:
        raise SubmissionRejected(f"no files submitted; expected one of: {', '.join(editable)}")
    total = 0
    accepted: dict[str, str] = {}
    for name, content in files.items():
        if name not in editable:
            readonly = {e.path for e in challenge.spec.files if not e.editable}
            reason = "is read-only" if name in readonly else "is not a file of this challenge"
            raise SubmissionRejected(
                f"{name!r} {reason}; the editable files are: {', '.join(editable)}"
            )
        try:
            data = content.encode("utf-8") if isinstance(content, str) else bytes(content)
        except UnicodeEncodeError as exc:  # a lone surrogate ("\\ud800" in JSON) is no text
            raise SubmissionRejected(
                f"{name} is not valid Unicode text (a lone surrogate at character {exc.start})"
            ) from None
        if len(data) > MAX_SUBMITTED_FILE_BYTES:
            raise SubmissionRejected(
                f"{name} is {len(data):,} bytes; the limit is {MAX_SUBMITTED_FILE_BYTES:,} bytes"
            )
        total += len(data)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SubmissionRejected(
                f"{name} is not UTF-8 text (invalid byte at offset {exc.start})"
            ) from None
        if "\x00" in text:
            raise SubmissionRejected(f"{name} contains a NUL byte; only text files are accepted")
        accepted[name] = text
    if total > MAX_SUBMISSION_BYTES:
        raise SubmissionRejected(
            f"the submission is {total:,} bytes; the limit is {MAX_SUBMISSION_BYTES:,} bytes"
        )
    return accepted


@dataclass(frozen=True)
class JobFile:
    path: str
    content: bytes | None
    """``None`` for a folder."""
    owner: int = ROOT_UID
    mode: int = 0o644
    judge_only: bool = False
    """Owned by the judge's uid and unreadable to anyone else (the hidden tests)."""


@dataclass(frozen=True)
class Workspace:
    """Everything a run needs, as data; written out by :meth:`to_tar` or :meth:`write_to`."""

    files: tuple[JobFile, ...]
    job: dict

    def to_tar(self, prefix: str = "") -> bytes:
        """The job as a tar, every entry root's; ``judge_only`` entries (and their folders) have
        no access for anyone else, until the harness hands them to the judge's uid."""
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
            directories: dict[str, bool] = {"": False}
            for entry in self.files:
                parts = entry.path.split("/")
                if entry.content is not None:
                    parts = parts[:-1]
                for depth in range(1, len(parts) + 1):
                    name = "/".join(parts[:depth])
                    directories[name] = directories.get(name, False) or (
                        entry.judge_only and depth == len(parts)
                    )
            for directory, private in sorted(directories.items()):
                info = tarfile.TarInfo(prefix + directory if directory else prefix or ".")
                info.type = tarfile.DIRTYPE
                info.mode = 0o700 if private else 0o755
                info.uid = info.gid = ROOT_UID
                tar.addfile(info)
            for entry in self.files:
                if entry.content is None:
                    continue
                info = tarfile.TarInfo(prefix + entry.path)
                info.size = len(entry.content)
                info.mode = 0o600 if entry.judge_only else entry.mode
                info.uid = info.gid = entry.owner
                tar.addfile(info, io.BytesIO(entry.content))
        return buffer.getvalue()

    def write_to(self, root: Path) -> None:
        for entry in self.files:
            target = root / entry.path
            if entry.content is None:
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
            descriptor = os.open(target, flags, entry.mode)
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(entry.content)


def build_workspace(
    challenge: Challenge,
    candidate_files: dict[str, str],
    mode: Mode,
) -> Workspace:
    """Lay out a run of ``mode`` tests against the candidate's (already validated) files."""
    spec = challenge.spec
    files: list[JobFile] = []
    for entry in spec.files:
        content = candidate_files.get(entry.path, challenge.starter[entry.path])
        files.append(JobFile(f"src/{entry.path}", content.encode()))
    for path, content in challenge.starter.items():
        files.append(JobFile(f"starter/{path}", content.encode()))
    judged = mode == "hidden" and spec.grading == "judged"
    tests = challenge.hidden_tests if mode == "hidden" else challenge.visible_tests
    for path, content in tests.items():
        files.append(
            JobFile(f"tests/{safe_relative_path(path)}", content.encode(), judge_only=judged)
        )
    if judged:
        files.append(JobFile("judge", None, judge_only=True))

    limits = spec.limits
    checks = []
    if mode == "hidden":
        for check in spec.checks:
            checks.append({"id": check.id, "node": check.test, "timeout": check.timeout_seconds})
    job = {
        "mode": mode,
        "grading": spec.grading if mode == "hidden" else "in-process",
        "challenge": spec.id,
        "checks": checks,
        "wall_seconds": limits.wall_seconds,
        # Visible tests are found when they are collected; each gets the longest time any
        # check of the challenge has, so a hung one is named instead of eating the wall limit.
        "test_timeout": max((c.timeout_seconds for c in spec.checks), default=30),
        "output_bytes": limits.output_kb * 1024,
        "pids": limits.pids,
    }
    files.append(JobFile("job.json", json.dumps(job).encode(), mode=0o600))
    return Workspace(files=tuple(files), job=job)
