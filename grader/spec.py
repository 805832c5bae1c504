"""Load and validate a challenge: ``challenges/<id>/challenge.yaml`` and the files it names.

A challenge may name files by path inside its folder or carry their contents inline, so one
uploaded YAML file can hold a whole challenge. Every error names the file and the field path.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Annotated, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from grader.nodes import ParsedTests
from grader.nodes import missing_test as missing_test  # re-exported: it was defined here

MAX_FILE_BYTES = 512 * 1024
MAX_FILES_PER_SET = 64
MAX_VERSION = 2**31 - 1  # stored in an integer column: PostgreSQL's integer ends here
SLUG = r"^[a-z0-9][a-z0-9-]{1,62}$"
CHALLENGE_FILE = "challenge.yaml"

Category = Literal["correctness", "leak", "race", "blocking", "queries", "throughput", "robustness"]

PLATFORM_MAX_LIMITS = {
    "wall_seconds": 300,
    "memory_mb": 2048,
    "cpus": 2.0,
    "pids": 256,
    "output_kb": 512,
}


class ChallengeError(ValueError):
    """A challenge that cannot be loaded; ``str()`` names the file and the field."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = problems
        lines = [
            f"{source}: {where}: {what}" if where else f"{source}: {what}"
            for where, what in problems
        ]
        super().__init__("\n".join(lines))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Inline(_Strict):
    content: str


FileSet = Annotated[
    str | dict[str, str],
    Field(description="a folder inside the challenge, or inline {relative path: content}"),
]


class FileEntry(_Strict):
    path: str
    editable: bool = False
    open: bool = False

    @field_validator("path")
    @classmethod
    def _safe(cls, value: str) -> str:
        return safe_relative_path(value)


class TestSets(_Strict):
    visible: FileSet = "tests/visible"
    hidden: FileSet = "tests/hidden"


class Limits(_Strict):
    wall_seconds: int = Field(60, gt=0, le=PLATFORM_MAX_LIMITS["wall_seconds"])
    memory_mb: int = Field(512, ge=128, le=PLATFORM_MAX_LIMITS["memory_mb"])
    cpus: float = Field(1.0, gt=0, le=PLATFORM_MAX_LIMITS["cpus"])
    pids: int = Field(64, ge=16, le=PLATFORM_MAX_LIMITS["pids"])
    output_kb: int = Field(256, ge=4, le=PLATFORM_MAX_LIMITS["output_kb"])


class Check(_Strict):
    id: str = Field(pattern=SLUG)
    title: str = Field(min_length=3, max_length=200)
    category: Category
    weight: int = Field(gt=0, le=100)
    test: str = Field(pattern=r"^[A-Za-z0-9_./-]+\.py::[A-Za-z0-9_\[\]:.-]+$")
    role: Literal["detects_bug", "guards_behaviour"]
    timeout_seconds: int = Field(30, gt=0, le=PLATFORM_MAX_LIMITS["wall_seconds"])

    @field_validator("test")
    @classmethod
    def _safe_test_file(cls, value: str) -> str:
        safe_relative_path(value.split("::", 1)[0])
        return value


class SoundFix(_Strict):
    name: str = Field(pattern=SLUG)
    path: FileSet


class WrongFix(SoundFix):
    fails: list[str] = Field(min_length=1)


class Fixes(_Strict):
    sound: list[SoundFix] = []
    wrong: list[WrongFix] = []


class Promise(_Strict):
    """One thing the brief promises "fixed" means (or a constraint it sets), and the checks that
    fail when a fix breaks it, at the scale the brief names."""

    promise: str = Field(min_length=3, max_length=300)
    checks: list[str] = Field(min_length=1)
    scale: str | None = Field(None, max_length=200)


class EquivalentMutant(_Strict):
    """A mutant of the reference that behaves as the reference does, so no check can kill it
    (``flask challenges mutate`` prints the id)."""

    id: str = Field(pattern=r"^[A-Za-z0-9_./-]+\.py:[A-Za-z_]+:[0-9a-f]{8}$")
    reason: str = Field(min_length=10, max_length=300)


class ChallengeSpec(_Strict):
    id: str = Field(pattern=SLUG)
    version: int = Field(ge=1, le=MAX_VERSION)
    title: str = Field(min_length=3, max_length=200)
    summary: str = Field(min_length=3, max_length=500)
    difficulty: Literal["easy", "medium", "hard"]
    tags: list[str] = []
    time_limit_minutes: int = Field(gt=0, le=600)
    brief: str | Inline
    interviewer_notes: str | Inline
    files: list[FileEntry] = Field(min_length=1)
    starter: FileSet = "starter"
    solution: FileSet = "solution"
    tests: TestSets = TestSets()
    limits: Limits = Limits()
    checks: list[Check] = Field(min_length=1)
    grading: Literal["judged", "in-process"] = "judged"
    """``judged``: hidden checks run in a judge that drives the candidate's code in a host
    process of its own (trusted verdicts). ``in-process``: hidden tests import the candidate's
    code into the test process; kept for challenges not yet ported, their verdicts can be forged."""
    fixes: Fixes = Fixes()
    promises: list[Promise] = []
    """Required for a challenge loaded from a folder or an upload; versions stored before
    promises existed have none."""
    equivalent_mutants: list[EquivalentMutant] = []

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> ChallengeSpec:
        paths = [entry.path for entry in self.files]
        if len(set(paths)) != len(paths):
            raise ValueError("files: a path is listed twice")
        if not any(entry.editable for entry in self.files):
            raise ValueError("files: at least one file must be editable")
        if sum(entry.open for entry in self.files) > 1:
            raise ValueError("files: at most one file may have open: true")
        ids = [check.id for check in self.checks]
        if len(set(ids)) != len(ids):
            raise ValueError("checks: two checks share an id")
        tests = [check.test for check in self.checks]
        if len(set(tests)) != len(tests):
            raise ValueError("checks: two checks name the same test")
        names = [fix.name for fix in (*self.fixes.sound, *self.fixes.wrong)]
        if len(set(names)) != len(names):
            raise ValueError("fixes: two fixes share a name")
        for index, fix in enumerate(self.fixes.wrong):
            unknown = sorted(set(fix.fails) - set(ids))
            if unknown:
                raise ValueError(f"fixes.wrong[{index}].fails: unknown check ids {unknown}")
        stored = bool(info.context and info.context.get("stored"))
        if not stored or self.promises:
            self._promises_cover(ids)
        mutant_ids = [m.id for m in self.equivalent_mutants]
        if len(set(mutant_ids)) != len(mutant_ids):
            raise ValueError("equivalent_mutants: a mutant is listed twice")
        return self

    def _promises_cover(self, check_ids: list[str]) -> None:
        """Every promise names checks that exist, and every check keeps at least one promise."""
        if not self.promises:
            raise ValueError(
                "promises: list what the brief promises and the checks that catch each promise "
                "broken (see docs/challenge-format.md)"
            )
        covered: set[str] = set()
        for index, promise in enumerate(self.promises):
            unknown = sorted(set(promise.checks) - set(check_ids))
            if unknown:
                raise ValueError(f"promises[{index}].checks: unknown check ids {unknown}")
            covered.update(promise.checks)
        orphans = [check_id for check_id in check_ids if check_id not in covered]
        if orphans:
            raise ValueError(
                f"promises: checks {orphans} keep no promise of the brief; name the promise each "
                "one guards, or drop the check"
            )

    @property
    def editable_paths(self) -> list[str]:
        return [entry.path for entry in self.files if entry.editable]


@dataclass(frozen=True)
class Fix:
    name: str
    kind: Literal["sound", "wrong"]
    files: dict[str, str]
    fails: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Challenge:
    """A validated challenge with every file's content resolved."""

    spec: ChallengeSpec
    source: str
    brief: str
    interviewer_notes: str
    starter: dict[str, str]
    solution: dict[str, str]
    visible_tests: dict[str, str]
    hidden_tests: dict[str, str]
    fixes: tuple[Fix, ...] = ()
    content_hash: str = field(default="")

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def version_label(self) -> str:
        return f"v{self.spec.version}+{self.content_hash[:12]}"


def safe_relative_path(value: str) -> str:
    """Return ``value`` if it is a plain relative POSIX path inside its folder, else raise."""
    if not value or "\\" in value or "\x00" in value:
        raise ValueError(f"{value!r} is not a valid relative path")
    path = PurePosixPath(value)
    if path.is_absolute() or any(part in ("..", ".", "") for part in value.split("/")):
        raise ValueError(f"{value!r} must be a relative path without '.' or '..' parts")
    if not re.fullmatch(r"[A-Za-z0-9_.\-/]+", value):
        raise ValueError(f"{value!r} may use only letters, digits, '_', '-', '.' and '/'")
    return value


def load_challenge(folder: Path | str) -> Challenge:
    """Load ``folder/challenge.yaml``; the folder name must match the challenge id."""
    folder = Path(folder)
    yaml_path = folder / CHALLENGE_FILE
    source = str(yaml_path)
    if not yaml_path.is_file() or yaml_path.is_symlink():
        raise ChallengeError(
            source, [("", "file not found (a challenge folder needs challenge.yaml)")]
        )
    challenge = load_challenge_text(_read_text(yaml_path, source, ""), source, folder)
    if challenge.id != folder.name:
        raise ChallengeError(
            source, [("id", f"{challenge.id!r} does not match the folder name {folder.name!r}")]
        )
    return challenge


def load_challenge_text(text: str, source: str, folder: Path | None = None) -> Challenge:
    """Load a challenge from YAML text; paths resolve inside ``folder`` (inline-only if None)."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ChallengeError(source, [(where, f"invalid YAML: {problem}")]) from None
    if not isinstance(raw, dict):
        raise ChallengeError(source, [("", "the document must be a mapping of fields")])
    try:
        spec = ChallengeSpec.model_validate(raw)
    except ValidationError as exc:
        raise ChallengeError(source, _pydantic_problems(exc)) from None
    return _resolve(spec, source, folder)


def _pydantic_problems(exc: ValidationError) -> list[tuple[str, str]]:
    problems = []
    for error in exc.errors():
        location = ".".join(str(p) if isinstance(p, str) else f"[{p}]" for p in error["loc"])
        location = location.replace(".[", "[")
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "unknown field"
        elif message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        problems.append((location, message))
    return problems


def _resolve(spec: ChallengeSpec, source: str, folder: Path | None) -> Challenge:
    problems: list[tuple[str, str]] = []

    def text_of(value: str | Inline, field_name: str) -> str:
        if isinstance(value, Inline):
            return value.content
        try:
            return _read_text(_inside(folder, value, source, field_name), source, field_name)
        except ChallengeError as exc:
            problems.extend(exc.problems)
            return ""

    def files_of(value: str | dict[str, str], field_name: str) -> dict[str, str]:
        try:
            return _file_set(folder, value, source, field_name)
        except ChallengeError as exc:
            problems.extend(exc.problems)
            return {}

    brief = text_of(spec.brief, "brief")
    notes = text_of(spec.interviewer_notes, "interviewer_notes")
    starter = files_of(spec.starter, "starter")
    solution = files_of(spec.solution, "solution")
    visible = files_of(spec.tests.visible, "tests.visible")
    hidden = files_of(spec.tests.hidden, "tests.hidden")

    listed = {entry.path for entry in spec.files}
    editable = set(spec.editable_paths)
    for index, entry in enumerate(spec.files):
        if entry.path not in starter:
            problems.append((f"files[{index}].path", f"{entry.path} is missing from the starter"))
    for extra in sorted(set(starter) - listed):
        problems.append(("starter", f"{extra} is not listed under files"))
    for path in sorted(set(solution) - editable):
        problems.append(("solution", f"{path} is not an editable file"))
    if not solution and not problems:
        problems.append(("solution", "the reference solution has no files"))
    hidden_files, visible_files = ParsedTests(hidden), ParsedTests(visible)
    for index, check in enumerate(spec.checks):
        # The harness hands each check's node to pytest, and one node pytest cannot find stops
        # the whole run: look every node up now, in the files' syntax (grader/nodes.py).
        problem = hidden_files.node_problem(check.test, visible)
        if problem:
            problems.append((f"checks[{index}].test", f"check {check.id}: {problem}"))
    named = {check.test.split("::", 1)[0] for check in spec.checks}
    for field_name, files in (("tests.hidden", hidden_files), ("tests.visible", visible_files)):
        for path, problem in files.unparsable().items():
            if field_name == "tests.visible" or path not in named:  # else named with its check
                problems.append((field_name, problem))

    fixes = []
    for kind, entries in (("sound", spec.fixes.sound), ("wrong", spec.fixes.wrong)):
        for index, entry in enumerate(entries):
            field_name = f"fixes.{kind}[{index}].path"
            files = files_of(entry.path, field_name)
            for path in sorted(set(files) - editable):
                problems.append((field_name, f"{path} is not an editable file"))
            fails = frozenset(getattr(entry, "fails", ()))
            fixes.append(Fix(name=entry.name, kind=kind, files=files, fails=fails))

    if problems:
        raise ChallengeError(source, problems)
    challenge = Challenge(
        spec=spec,
        source=source,
        brief=brief,
        interviewer_notes=notes,
        starter=starter,
        solution=solution,
        visible_tests=visible,
        hidden_tests=hidden,
        fixes=tuple(fixes),
    )
    return _with_hash(challenge)


_ADDED_LATER = {"grading": "in-process", "promises": [], "equivalent_mutants": []}


def _with_hash(challenge: Challenge) -> Challenge:
    spec = challenge.spec.model_dump(mode="json")
    for name, absent in _ADDED_LATER.items():
        # Versions stored before a field existed were hashed without it: leaving the field out
        # while it has the value those versions mean keeps their stored hashes valid.
        if spec.get(name) == absent:
            del spec[name]
    payload = {
        "spec": spec,
        "brief": challenge.brief,
        "notes": challenge.interviewer_notes,
        "starter": challenge.starter,
        "solution": challenge.solution,
        "visible": challenge.visible_tests,
        "hidden": challenge.hidden_tests,
        "fixes": [[f.name, f.kind, f.files, sorted(f.fails)] for f in challenge.fixes],
    }
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
    return Challenge(**{**challenge.__dict__, "content_hash": digest})


def _inside(folder: Path | None, relative: str, source: str, field_name: str) -> Path:
    if folder is None:
        raise ChallengeError(
            source,
            [(field_name, f"{relative!r} is a path, but this YAML has no folder: inline it")],
        )
    try:
        safe_relative_path(relative.rstrip("/"))
    except ValueError as exc:
        raise ChallengeError(source, [(field_name, str(exc))]) from None
    path = folder
    for part in PurePosixPath(relative.rstrip("/")).parts:
        path = path / part
        if path.is_symlink():
            raise ChallengeError(source, [(field_name, f"{relative} is a symbolic link")])
    return path


def _read_text(path: Path, source: str, field_name: str) -> str:
    if path.is_symlink():
        raise ChallengeError(source, [(field_name, f"{path.name} is a symbolic link")])
    if not path.is_file():
        raise ChallengeError(source, [(field_name, f"{path} not found")])
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ChallengeError(
            source, [(field_name, f"{path.name} is larger than {MAX_FILE_BYTES} bytes")]
        )
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise ChallengeError(source, [(field_name, f"{path.name} is not UTF-8 text")]) from None


def _file_set(
    folder: Path | None, value: str | dict[str, str], source: str, field_name: str
) -> dict[str, str]:
    if isinstance(value, dict):
        files = {}
        for name, content in value.items():
            try:
                files[safe_relative_path(name)] = content
            except ValueError as exc:
                raise ChallengeError(source, [(f"{field_name}.{name}", str(exc))]) from None
        return files
    root = _inside(folder, value, source, field_name)
    if not root.is_dir():
        raise ChallengeError(source, [(field_name, f"folder {value} not found")])
    files = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if "__pycache__" in path.parts or path.suffix == ".pyc":
            continue
        if path.is_symlink():
            raise ChallengeError(source, [(field_name, f"{relative} is a symbolic link")])
        if path.is_dir():
            continue
        try:
            safe_relative_path(relative)
        except ValueError as exc:
            raise ChallengeError(source, [(field_name, str(exc))]) from None
        files[relative] = _read_text(path, source, field_name)
        if len(files) > MAX_FILES_PER_SET:
            raise ChallengeError(source, [(field_name, f"more than {MAX_FILES_PER_SET} files")])
    return files


def discover_challenges(root: Path | str) -> list[Path]:
    """Challenge folders under ``root`` (those holding a challenge.yaml), sorted by name."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(p.parent for p in root.glob(f"*/{CHALLENGE_FILE}") if not p.parent.is_symlink())


def challenge_to_payload(challenge: Challenge) -> dict:
    """Everything needed to grade this exact version later, as JSON-ready data."""
    return {
        "spec": challenge.spec.model_dump(mode="json"),
        "source": challenge.source,
        "brief": challenge.brief,
        "interviewer_notes": challenge.interviewer_notes,
        "starter": challenge.starter,
        "solution": challenge.solution,
        "visible_tests": challenge.visible_tests,
        "hidden_tests": challenge.hidden_tests,
        "fixes": [
            {"name": f.name, "kind": f.kind, "files": f.files, "fails": sorted(f.fails)}
            for f in challenge.fixes
        ],
        "content_hash": challenge.content_hash,
    }


def challenge_from_payload(payload: dict) -> Challenge:
    """Rebuild a challenge stored with :func:`challenge_to_payload`; the hash must still match."""
    challenge = _with_hash(
        Challenge(
            spec=ChallengeSpec.model_validate(
                {"grading": "in-process", **payload["spec"]}, context={"stored": True}
            ),
            source=payload["source"],
            brief=payload["brief"],
            interviewer_notes=payload["interviewer_notes"],
            starter=dict(payload["starter"]),
            solution=dict(payload["solution"]),
            visible_tests=dict(payload["visible_tests"]),
            hidden_tests=dict(payload["hidden_tests"]),
            fixes=tuple(
                Fix(
                    name=f["name"],
                    kind=f["kind"],
                    files=dict(f["files"]),
                    fails=frozenset(f["fails"]),
                )
                for f in payload["fixes"]
            ),
        )
    )
    if challenge.content_hash != payload["content_hash"]:
        raise ChallengeError(payload["source"], [("", "stored challenge does not match its hash")])
    return challenge
