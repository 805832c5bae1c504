"""Challenges uploaded by an admin: one YAML file with inline contents, or a zip of a folder.

Everything is checked before anything is written or parsed further: the zip's entries (names,
types, sizes, compression ratio, encryption, duplicates) before a byte is extracted, each entry
read with a size limit whatever its header claims, and the YAML's anchors and aliases before it
becomes a challenge (an alias "bomb" expands a small file into gigabytes). Then grader.spec
loads the challenge as it loads the library. Nothing is stored unless all of it passes and the
challenge's id and version fit the versions already in the library.
"""

from __future__ import annotations

import io
import re
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

import yaml
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.utils import secure_filename

from app.extensions import db
from app.models import ChallengeVersion, User, VersionSource
from app.services.library import store_version
from grader import mutation
from grader.spec import CHALLENGE_FILE, Challenge, ChallengeError, load_challenge_text

MIB = 1024 * 1024
MAX_YAML_BYTES = 1 * MIB
MAX_ZIP_BYTES = 2 * MIB  # the same as the app's MAX_CONTENT_LENGTH
MAX_ZIP_ENTRIES = 200
MAX_ZIP_ENTRY_BYTES = 1 * MIB
MAX_ZIP_TOTAL_BYTES = 8 * MIB
MAX_COMPRESSION_RATIO = 100
RATIO_CHECKED_FROM_BYTES = 1024  # tiny files compress oddly; a bomb is never tiny
MAX_YAML_NODES = 100_000
MAX_YAML_EXPANDED_BYTES = 8 * MIB
MAX_LISTED_PROBLEMS = 20
YAML_SUFFIXES = (".yaml", ".yml")
READ_CHUNK = 64 * 1024
# What archivers add on their own; skipped, never extracted.
IGNORED_DIRS = ("__MACOSX",)
IGNORED_FILES = (".DS_Store", "Thumbs.db")

_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    EOFError,
    OSError,
    ValueError,
    NotImplementedError,
    RuntimeError,
)


class UploadRefused(Exception):
    """An upload that is not stored: ``message`` says why, ``problems`` list the details
    (e.g. each ChallengeError line, naming the file and the field)."""

    def __init__(self, message: str, problems: list[str] | None = None, status: int = 422):
        self.message = message
        self.problems = problems or []
        self.status = status
        super().__init__("\n".join([message, *self.problems]))


def accept_upload(filename: str, stream: BinaryIO, user: User) -> ChallengeVersion:
    """Load an uploaded challenge and store it as a draft; raises UploadRefused."""
    challenge = load_upload(filename, stream)
    return store_upload(challenge, user)


def load_upload(filename: str, stream: BinaryIO) -> Challenge:
    """The challenge in an uploaded ``.yaml``/``.yml`` or ``.zip`` file; raises UploadRefused."""
    name = (filename or "").strip()
    if not name:
        raise UploadRefused("Choose a file to upload.", status=400)
    display = secure_filename(name) or "upload"
    suffix = PurePosixPath(name.replace("\\", "/")).suffix.lower()
    if suffix in YAML_SUFFIXES:
        challenge = _load_yaml_file(display, stream)
    elif suffix == ".zip":
        challenge = _load_zip_file(display, stream)
    else:
        raise UploadRefused(
            f"{display}: upload a .yaml or .yml file (one challenge with its files inline) or a "
            ".zip of a challenge folder.",
            status=400,
        )
    stale = mutation.stale_equivalent_problem(challenge)
    if stale:
        raise UploadRefused(
            "The challenge is not valid; nothing was stored.", [f"{display}: {stale}"]
        )
    return challenge


def store_upload(challenge: Challenge, user: User) -> ChallengeVersion:
    """Store ``challenge`` as a new draft, unless it clashes with a version already stored."""
    spec = challenge.spec
    same = db.session.scalar(
        select(ChallengeVersion).where(ChallengeVersion.content_hash == challenge.content_hash)
    )
    if same is not None:
        raise UploadRefused(
            f"This exact challenge is already in the library as {same.slug} v{same.version} "
            f"({same.status}).",
            status=409,
        )
    stored = db.session.scalars(
        select(ChallengeVersion).where(ChallengeVersion.slug == spec.id)
    ).all()
    if any(v.version == spec.version for v in stored):
        raise UploadRefused(
            f"{spec.id} v{spec.version} is already in the library with different content: "
            "bump `version` in the YAML to upload a new version.",
            status=409,
        )
    latest = max((v.version for v in stored), default=0)
    if spec.version < latest:
        raise UploadRefused(
            f"{spec.id} v{spec.version} is lower than v{latest}, already in the library: a new "
            f"version needs a `version` above {latest}.",
            status=409,
        )
    try:
        store_version(challenge, source=VersionSource.UPLOAD, created_by=user)
        version = db.session.scalar(
            select(ChallengeVersion).where(ChallengeVersion.content_hash == challenge.content_hash)
        )
        db.session.commit()
    except IntegrityError:  # the same content uploaded twice at once: the other one won
        db.session.rollback()
        raise UploadRefused(
            "This exact challenge was just stored by another upload.", status=409
        ) from None
    assert version is not None
    return version


# ---- YAML ---------------------------------------------------------------------------------


def _load_yaml_file(display: str, stream: BinaryIO) -> Challenge:
    data = _read_limited(stream, MAX_YAML_BYTES)
    if data is None:
        raise UploadRefused(f"{display} is larger than 1 MiB.", status=413)
    text = _decode(data, display)
    check_yaml_expansion(text, display)
    return _load_text(text, display, folder=None)


def check_yaml_expansion(text: str, source: str) -> None:
    """Refuse YAML whose aliases expand it past MAX_YAML_NODES nodes or
    MAX_YAML_EXPANDED_BYTES of text (a "billion laughs" bomb), or that refers to itself.

    PyYAML's safe_load shares aliased objects, so loading is quick; what would explode is
    everything after it (validation, hashing, storing). The node graph is measured with each
    node counted once per reference, memoised, so a bomb is refused in milliseconds."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return  # not YAML at all: grader.spec reports it with its line and column
    except RecursionError:
        raise UploadRefused(f"{source}: the YAML is nested too deeply.") from None
    if root is None:
        return
    sizes: dict[int, tuple[int, int]] = {}
    open_nodes: set[int] = set()

    def measure(node: yaml.Node) -> tuple[int, int]:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in open_nodes:
            raise UploadRefused(f"{source}: the YAML refers to itself through an alias.")
        open_nodes.add(key)
        if isinstance(node, yaml.ScalarNode):
            count, size = 1, len(node.value.encode("utf-8"))
        else:
            children: Iterator[yaml.Node]
            if isinstance(node, yaml.MappingNode):
                children = (part for pair in node.value for part in pair)
            else:
                children = iter(node.value)
            count, size = 1, 0
            for child in children:
                child_count, child_size = measure(child)
                count += child_count
                size += child_size
                if count > MAX_YAML_NODES or size > MAX_YAML_EXPANDED_BYTES:
                    raise UploadRefused(
                        f"{source}: the YAML's anchors and aliases expand it past "
                        f"{MAX_YAML_NODES:,} values or {MAX_YAML_EXPANDED_BYTES // MIB} MiB "
                        "(an alias bomb?); write the content out instead."
                    )
        open_nodes.discard(key)
        sizes[key] = (count, size)
        return count, size

    try:
        measure(root)
    except RecursionError:
        raise UploadRefused(f"{source}: the YAML is nested too deeply.") from None


def _load_text(text: str, source: str, folder: Path | None, hide: str | None = None) -> Challenge:
    try:
        return load_challenge_text(text, source, folder)
    except ChallengeError as exc:
        lines = str(exc).splitlines()
        if hide:  # never show the server's temporary folder
            lines = [line.replace(hide + "/", "").replace(hide, ".") for line in lines]
        raise UploadRefused(
            "The challenge is not valid; nothing was stored.", _bounded(lines)
        ) from None
    except RecursionError:
        raise UploadRefused(f"{source}: the YAML is nested too deeply.") from None


# ---- zip ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    info: zipfile.ZipInfo
    parts: tuple[str, ...]
    is_dir: bool


def _load_zip_file(display: str, stream: BinaryIO) -> Challenge:
    data = _read_limited(stream, MAX_ZIP_BYTES)
    if data is None:
        raise UploadRefused(f"{display} is larger than 2 MiB.", status=413)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except _ZIP_ERRORS:
        raise UploadRefused(f"{display} is not a valid zip archive.") from None
    with archive, tempfile.TemporaryDirectory(prefix="faultline-upload-") as tmp:
        entries = inspect_zip(archive, display)
        root = Path(tmp)
        try:
            _extract(archive, entries, root, display)
        except _ZIP_ERRORS as exc:
            raise UploadRefused(f"{display}: the archive is damaged ({exc}).") from None
        yaml_parts = _challenge_yaml(entries, display)
        folder = root.joinpath(*yaml_parts[:-1])
        yaml_bytes = root.joinpath(*yaml_parts).read_bytes()
        source = f"{display}:{'/'.join(yaml_parts)}"
        text = _decode(yaml_bytes, source)
        check_yaml_expansion(text, source)
        return _load_text(text, source, folder, hide=tmp)


def inspect_zip(archive: zipfile.ZipFile, display: str) -> list[_Entry]:
    """Check every entry from the central directory before anything is extracted; return the
    entries to extract (archivers' clutter left out). Raises UploadRefused."""
    infos = archive.infolist()
    if len(infos) > MAX_ZIP_ENTRIES:
        raise UploadRefused(
            f"{display} has {len(infos)} entries; at most {MAX_ZIP_ENTRIES} are accepted."
        )
    problems: list[str] = []
    seen: set[str] = set()
    total = 0
    entries = []
    for info in infos:
        problem = _entry_problem(info)
        name = info.filename
        key = name.rstrip("/")
        if problem is None and key in seen:
            problem = "appears twice"
        seen.add(key)
        if problem is not None:
            problems.append(f"{name!r} {problem}")
            continue
        total += info.file_size
        parts = tuple(key.split("/"))
        if parts[0] in IGNORED_DIRS or parts[-1] in IGNORED_FILES:
            continue
        entries.append(_Entry(info=info, parts=parts, is_dir=info.is_dir()))
    if total > MAX_ZIP_TOTAL_BYTES:
        problems.append(
            f"the entries add up to {total:,} bytes uncompressed; at most "
            f"{MAX_ZIP_TOTAL_BYTES // MIB} MiB"
        )
    if problems:
        raise UploadRefused(
            f"{display} was refused before extraction; nothing was stored.", _bounded(problems)
        )
    return entries


def _entry_problem(info: zipfile.ZipInfo) -> str | None:
    name = info.filename
    if "\x00" in info.orig_filename or any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "has control characters in its name"
    if "\\" in name:
        return "uses a backslash in its path"
    if re.match(r"^[A-Za-z]:", name):
        return "starts with a drive letter"
    if name.startswith("/"):
        return "is an absolute path"
    parts = name.rstrip("/").split("/")
    if ".." in parts:
        return "has a '..' component"
    if any(part in ("", ".") for part in parts):
        return "has an empty or '.' component"
    if info.flag_bits & 0x1:
        return "is encrypted"
    mode = info.external_attr >> 16
    kind = stat.S_IFMT(mode)
    if stat.S_ISLNK(mode):
        return "is a symbolic link"
    if kind and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        return "is not a regular file or folder"
    if kind and stat.S_ISDIR(mode) != info.is_dir():
        return "is a folder and a file at once"
    if info.is_dir():
        return None
    if info.file_size > MAX_ZIP_ENTRY_BYTES:
        return f"is {info.file_size:,} bytes uncompressed; at most 1 MiB per file"
    ratio = info.file_size / max(info.compress_size, 1)
    if info.file_size >= RATIO_CHECKED_FROM_BYTES and ratio > MAX_COMPRESSION_RATIO:
        return f"is compressed {ratio:.0f}:1; over {MAX_COMPRESSION_RATIO}:1 looks like a zip bomb"
    return None


def _extract(archive: zipfile.ZipFile, entries: list[_Entry], root: Path, display: str) -> None:
    """Write the checked entries under ``root``, reading each with a size limit (a header can
    lie about its size); never through a path outside ``root``."""
    written_total = 0
    resolved_root = root.resolve()
    for entry in entries:
        target = root.joinpath(*entry.parts)
        if not target.resolve().is_relative_to(resolved_root):
            raise UploadRefused(f"{display}: {entry.info.filename!r} points outside the folder.")
        try:
            if entry.is_dir:
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(entry.info) as source, target.open("xb") as sink:
                written = 0
                while chunk := source.read(READ_CHUNK):
                    written += len(chunk)
                    written_total += len(chunk)
                    if written > MAX_ZIP_ENTRY_BYTES or written_total > MAX_ZIP_TOTAL_BYTES:
                        raise UploadRefused(
                            f"{display}: {entry.info.filename!r} holds more than its header "
                            "says, past the size limits; nothing was stored."
                        )
                    sink.write(chunk)
        except (FileExistsError, NotADirectoryError, IsADirectoryError):
            raise UploadRefused(
                f"{display}: {entry.info.filename!r} clashes with another entry of that name."
            ) from None


def _challenge_yaml(entries: list[_Entry], display: str) -> tuple[str, ...]:
    files = {entry.parts for entry in entries if not entry.is_dir}
    if (CHALLENGE_FILE,) in files:
        return (CHALLENGE_FILE,)
    tops = {entry.parts[0] for entry in entries}
    if len(tops) == 1:
        (top,) = tops
        if (top, CHALLENGE_FILE) in files:
            return (top, CHALLENGE_FILE)
    raise UploadRefused(
        f"{display}: {CHALLENGE_FILE} must be at the root of the zip or inside its one "
        "top-level folder."
    )


# ---- helpers ------------------------------------------------------------------------------


def _read_limited(stream: BinaryIO, limit: int) -> bytes | None:
    """At most ``limit`` bytes of ``stream``; None if it holds more."""
    data = bytearray()
    while len(data) <= limit:
        chunk = stream.read(min(READ_CHUNK, limit + 1 - len(data)))
        if not chunk:
            break
        data.extend(chunk)
    return None if len(data) > limit else bytes(data)


def _decode(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UploadRefused(f"{source} is not UTF-8 text.") from None


def _bounded(lines: list[str]) -> list[str]:
    if len(lines) <= MAX_LISTED_PROBLEMS:
        return lines
    return [*lines[:MAX_LISTED_PROBLEMS], f"... and {len(lines) - MAX_LISTED_PROBLEMS} more"]
