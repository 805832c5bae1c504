"""The sandbox runner image: its tag (a hash of what goes into it) and an offline build.

The tag changes whenever the Dockerfile, the locked requirements or the harness change, so a
stale image is never used by mistake. ``python -m grader.images build`` builds it where missing.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import docker
from docker.errors import APIError, ImageNotFound

RUNNER_NAME = "faultline-runner-python"
BASE_TAG = "faultline-base:bookworm"
REGISTRY_BASE = "python:3.11-slim-bookworm"
SANDBOX_PYTHON = "3.11"


def runner_dir() -> Path:
    configured = os.environ.get("FAULTLINE_RUNNER_DIR")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parent.parent / "runner_images" / "python"


def harness_dir() -> Path:
    return runner_dir() / "harness"


def _context_files() -> list[Path]:
    root = runner_dir()
    files = [root / "Dockerfile", root / "requirements.lock"]
    files += sorted(p for p in harness_dir().rglob("*.py") if "__pycache__" not in p.parts)
    return files


def runner_image_tag() -> str:
    """``faultline-runner-python:<hash>``, or ``FAULTLINE_RUNNER_IMAGE`` when set."""
    configured = os.environ.get("FAULTLINE_RUNNER_IMAGE")
    if configured:
        return configured
    digest = hashlib.sha256()
    root = runner_dir()
    for path in _context_files():
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return f"{RUNNER_NAME}:{digest.hexdigest()[:12]}"


def build_runner_image(force: bool = False, log: Callable[[str], None] = print) -> str:
    """Build the runner image unless it already exists; returns its tag."""
    client = docker.from_env(version="auto", timeout=600)
    tag = runner_image_tag()
    if not force:
        try:
            client.images.get(tag)
            log(f"runner image {tag} is up to date")
            return tag
        except ImageNotFound:
            pass
    base = _ensure_base(client, log)
    with tempfile.TemporaryDirectory(prefix="faultline-image-") as scratch:
        context = Path(scratch)
        shutil.copy(runner_dir() / "Dockerfile", context / "Dockerfile")
        shutil.copy(runner_dir() / "requirements.lock", context / "requirements.lock")
        shutil.copytree(
            harness_dir(),
            context / "harness",
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
        _download_wheels(context / "wheels", log)
        log(f"building {tag} from {base}")
        client.images.build(
            path=str(context),
            tag=tag,
            buildargs={"BASE": base},
            rm=True,
            forcerm=True,
            network_mode="none",
            pull=False,
        )
    client.images.get(tag).tag(RUNNER_NAME, "latest")
    log(f"built {tag}")
    return tag


def _ensure_base(client, log: Callable[[str], None]) -> str:
    for candidate in (BASE_TAG, REGISTRY_BASE):
        try:
            client.images.get(candidate)
            return candidate
        except ImageNotFound:
            continue
    try:
        log(f"pulling {REGISTRY_BASE}")
        client.images.pull(REGISTRY_BASE)
        return REGISTRY_BASE
    except APIError as exc:
        log(f"no registry base ({str(exc).splitlines()[0][:120]}); building one with debootstrap")
    _debootstrap_base(log)
    return BASE_TAG


def _debootstrap_base(log: Callable[[str], None]) -> None:
    if shutil.which("debootstrap") is None:
        raise SystemExit("debootstrap is missing: install it with `apt-get install debootstrap`")
    with tempfile.TemporaryDirectory(prefix="faultline-rootfs-") as scratch:
        rootfs = Path(scratch) / "rootfs"
        log("debootstrap: Debian bookworm (minbase) with python3 and python3-venv, about a minute")
        subprocess.run(
            [
                "debootstrap",
                "--variant=minbase",
                "--include=python3,python3-venv",
                "bookworm",
                str(rootfs),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
            shutil.rmtree(rootfs / cache, ignore_errors=True)
        log(f"importing the root filesystem as {BASE_TAG}")
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(
            ["docker", "import", "-", BASE_TAG],
            stdin=tar.stdout,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        if tar.wait() != 0:
            raise SystemExit("packing the debootstrap root filesystem failed")


def _download_wheels(target: Path, log: Callable[[str], None]) -> None:
    """Download the locked packages as wheels for the sandbox's Python, on the host."""
    machine = platform.machine()
    platforms = [f"manylinux_2_{minor}_{machine}" for minor in range(36, 16, -1)]
    platforms += [f"manylinux2014_{machine}"]
    log("downloading wheels for the sandbox on the host")
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--only-binary=:all:",
        "--python-version",
        SANDBOX_PYTHON,
        "--implementation",
        "cp",
        "--dest",
        str(target),
        "-r",
        str(runner_dir() / "requirements.lock"),
    ]
    for name in platforms:
        command += ["--platform", name]
    subprocess.run(command, check=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.images")
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="build the runner image if missing")
    build.add_argument("--force", action="store_true")
    sub.add_parser("tag", help="print the runner image tag")
    args = parser.parse_args(argv)
    if args.command == "tag":
        print(runner_image_tag())
        return 0
    build_runner_image(force=args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
