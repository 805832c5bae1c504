"""Similarity flags: submissions of different candidates that share code beyond the starter.

Winnowing (Schleimer, Wilkerson and Aiken, 2003; the algorithm behind MOSS): each file becomes a
stream of normalised tokens (identifiers renamed alike, literals collapsed, comments and layout
dropped), every run of ``K`` tokens is hashed, and from every window of ``W`` consecutive hashes
the smallest is kept as a fingerprint. Any shared run of at least ``K + W - 1`` tokens is
guaranteed to share a fingerprint. Hashes that occur anywhere in the challenge's starter or
reference solution are shared code and never count, so two candidates who both apply the
reference fix are not flagged; two who share the same unusual code are.

A flag may only name a candidate of an assessment the viewer can see; other matches are shown
without name or code.
"""

from __future__ import annotations

import hashlib
import io
import keyword
import re
import tokenize
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.access import can_see
from app.extensions import db
from app.models import ChallengeVersion, Invite, Submission, SubmissionMode, User

K = 12
W = 8
THRESHOLD = 0.6
MIN_SHARED = 5
MERGE_GAP_LINES = 2

Files = Mapping[str, str]


@dataclass
class MatchRegion:
    """Lines of this candidate's file that match lines of the other candidate's file."""

    path: str
    lines: tuple[int, int]
    other_path: str
    other_lines: tuple[int, int]
    this_text: str = ""
    other_text: str = ""


@dataclass
class SimilarityFlag:
    """``invite_id``'s submission resembles ``other_invite_id``'s for one challenge."""

    invite_id: int
    other_invite_id: int
    other_name: str
    challenge_slug: str
    score: float
    regions: list[MatchRegion] = field(default_factory=list)


@dataclass(frozen=True)
class Token:
    text: str
    line: int


@dataclass(frozen=True, order=True)
class Location:
    """Where a fingerprinted run of tokens lies: a file and its first and last line."""

    path: str
    first_line: int
    last_line: int


@dataclass(frozen=True)
class Comparison:
    score: float
    shared: int
    regions: list[MatchRegion]


# Pure core: no database.

_LAYOUT = {
    tokenize.COMMENT,
    tokenize.NL,
    tokenize.NEWLINE,
    tokenize.INDENT,
    tokenize.DEDENT,
    tokenize.ENCODING,
    tokenize.ENDMARKER,
}
_FSTRING_PARTS = {
    getattr(tokenize, name) for name in ("FSTRING_MIDDLE", "FSTRING_END") if hasattr(tokenize, name)
}
_FSTRING_START = getattr(tokenize, "FSTRING_START", None)

_FALLBACK_TOKEN = re.compile(
    r"""(?P<comment>\#[^\n]*)
      | (?P<string>[rbfuRBFU]{0,2}(?:'''[\s\S]*?'''|\"\"\"[\s\S]*?\"\"\"|'[^'\n]*'|"[^"\n]*"))
      | (?P<number>\d[\w.]*)
      | (?P<name>[^\W\d]\w*)
      | (?P<space>\s+)
      | (?P<op>.)""",
    re.VERBOSE,
)


def tokens(text: str, path: str = "file.py") -> list[Token]:
    """Normalised tokens of one file: identifiers become ``V``, strings ``S``, numbers ``N``;
    keywords and operators stay. Python that does not tokenize (a half-edited file) and other
    files fall back to a rough tokenizer with the same normalisation."""
    if path.endswith(".py"):
        try:
            return _python_tokens(text)
        except (tokenize.TokenError, SyntaxError):
            pass
    return _fallback_tokens(text)


def _python_tokens(text: str) -> list[Token]:
    result = []
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type in _LAYOUT or tok.type in _FSTRING_PARTS:
            continue
        if tok.type == tokenize.STRING or tok.type == _FSTRING_START:
            normal = "S"
        elif tok.type == tokenize.NUMBER:
            normal = "N"
        elif tok.type == tokenize.NAME:
            normal = tok.string if keyword.iskeyword(tok.string) else "V"
        else:
            normal = tok.string
        result.append(Token(normal, tok.start[0]))
    return result


def _fallback_tokens(text: str) -> list[Token]:
    result = []
    line = 1
    for match in _FALLBACK_TOKEN.finditer(text):
        kind, value = match.lastgroup, match.group()
        if kind == "string":
            result.append(Token("S", line))
        elif kind == "number":
            result.append(Token("N", line))
        elif kind == "name":
            result.append(Token(value if keyword.iskeyword(value) else "V", line))
        elif kind == "op":
            result.append(Token(value, line))
        line += value.count("\n")
    return result


def _hash(texts: Iterable[str]) -> int:
    digest = hashlib.blake2b("\x1f".join(texts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def kgram_hashes(toks: list[Token], k: int = K) -> list[tuple[int, int, int]]:
    """``(hash, first line, last line)`` of every run of ``k`` tokens."""
    return [
        (_hash(t.text for t in toks[i : i + k]), toks[i].line, toks[i + k - 1].line)
        for i in range(len(toks) - k + 1)
    ]


def fingerprint(
    text: str, path: str = "file.py", k: int = K, w: int = W
) -> list[tuple[int, int, int]]:
    """Winnowed fingerprints of one file as ``(hash, first line, last line)``: the rightmost
    smallest hash of every window of ``w`` k-gram hashes, each chosen position once."""
    grams = kgram_hashes(tokens(text, path), k)
    if len(grams) <= w:
        return [min(grams, key=lambda g: g[0])] if grams else []
    chosen: list[int] = []
    for start in range(len(grams) - w + 1):
        window = range(start, start + w)
        best = min(window, key=lambda i: (grams[i][0], -i))
        if not chosen or chosen[-1] != best:
            chosen.append(best)
    return [grams[i] for i in chosen]


def fingerprint_files(files: Files) -> dict[int, list[Location]]:
    """Fingerprint hash -> where it occurs, over every file of a submission."""
    prints: dict[int, list[Location]] = {}
    for path in sorted(files):
        for value, first, last in fingerprint(files[path], path):
            prints.setdefault(value, []).append(Location(path, first, last))
    return prints


def shared_code_hashes(*file_sets: Files) -> set[int]:
    """Every k-gram hash of the given files (starter and reference solution).

    All k-grams, not only the winnowed ones: a candidate's fingerprint inside copied starter code
    may be chosen from a window the starter's own winnowing did not choose it from."""
    return {
        value
        for files in file_sets
        for path, text in files.items()
        for value, _, _ in kgram_hashes(tokens(text, path))
    }


def without_shared_code(
    prints: dict[int, list[Location]], shared: set[int]
) -> dict[int, list[Location]]:
    return {value: places for value, places in prints.items() if value not in shared}


def compare(
    this: dict[int, list[Location]],
    other: dict[int, list[Location]],
    this_files: Files,
    other_files: Files,
    *,
    threshold: float = THRESHOLD,
    min_shared: int = MIN_SHARED,
) -> Comparison | None:
    """The comparison of two fingerprinted submissions (shared code already removed), or None
    when they are not similar enough to flag."""
    common = this.keys() & other.keys()
    smaller = min(len(this), len(other))
    if not smaller or len(common) < min_shared:
        return None
    score = len(common) / smaller
    if score < threshold:
        return None
    pairs = sorted((this[value][0], other[value][0]) for value in common)
    return Comparison(score, len(common), _regions(pairs, this_files, other_files))


def _regions(
    pairs: list[tuple[Location, Location]], this_files: Files, other_files: Files
) -> list[MatchRegion]:
    """Merge matching fingerprint locations into line ranges that run side by side."""
    merged: list[list[Location]] = []
    for mine, theirs in pairs:
        if merged and _continues(merged[-1][0], mine) and _continues(merged[-1][1], theirs):
            merged[-1] = [_union(merged[-1][0], mine), _union(merged[-1][1], theirs)]
        else:
            merged.append([mine, theirs])
    return [
        MatchRegion(
            path=mine.path,
            lines=(mine.first_line, mine.last_line),
            other_path=theirs.path,
            other_lines=(theirs.first_line, theirs.last_line),
            this_text=_lines(this_files.get(mine.path, ""), mine),
            other_text=_lines(other_files.get(theirs.path, ""), theirs),
        )
        for mine, theirs in merged
    ]


def _continues(region: Location, place: Location) -> bool:
    return (
        region.path == place.path
        and place.first_line <= region.last_line + MERGE_GAP_LINES
        and place.last_line >= region.first_line - MERGE_GAP_LINES
    )


def _union(region: Location, place: Location) -> Location:
    return Location(
        region.path,
        min(region.first_line, place.first_line),
        max(region.last_line, place.last_line),
    )


def _lines(text: str, place: Location) -> str:
    return "\n".join(text.splitlines()[place.first_line - 1 : place.last_line])


# With the database.


def latest_submissions(version: ChallengeVersion) -> dict[int, Submission]:
    """Invite id -> that candidate's latest submit of this exact version, across every
    assessment (admins' regrades excluded)."""
    rows = db.session.scalars(
        select(Submission)
        .where(
            Submission.challenge_version_id == version.id,
            Submission.mode == SubmissionMode.SUBMIT,
            Submission.regrade_of_id.is_(None),
        )
        .order_by(Submission.created_at, Submission.id)
        .options(selectinload(Submission.invite).selectinload(Invite.assessment))
    )
    return {submission.invite_id: submission for submission in rows}


def _shared_code(version: ChallengeVersion) -> set[int]:
    payload = version.payload
    return shared_code_hashes(payload.get("starter") or {}, payload.get("solution") or {})


def _visible_latest(version: ChallengeVersion, viewer: User) -> dict[int, Submission]:
    """:func:`latest_submissions` of the assessments ``viewer`` can see. A match with anyone
    else is not shown, not even anonymously: which of one's own candidate's lines match would
    be an oracle on code the viewer may not read. Admins see every assessment, so every match."""
    return {
        invite_id: submission
        for invite_id, submission in latest_submissions(version).items()
        if can_see(viewer, submission.invite.assessment)
    }


def _flag(
    version: ChallengeVersion,
    mine: Submission,
    theirs: Submission,
    prints: Mapping[int, dict[int, list[Location]]],
) -> SimilarityFlag | None:
    result = compare(prints[mine.invite_id], prints[theirs.invite_id], mine.files, theirs.files)
    if result is None:
        return None
    return SimilarityFlag(
        invite_id=mine.invite_id,
        other_invite_id=theirs.invite_id,
        other_name=theirs.invite.candidate_name,
        challenge_slug=version.slug,
        score=result.score,
        regions=result.regions,
    )


def _fingerprinted(
    version: ChallengeVersion, submissions: Mapping[int, Submission]
) -> dict[int, dict[int, list[Location]]]:
    shared = _shared_code(version)
    return {
        invite_id: without_shared_code(fingerprint_files(submission.files), shared)
        for invite_id, submission in submissions.items()
    }


def flags_for_invite(invite: Invite, viewer: User) -> list[SimilarityFlag]:
    """This candidate's flags, per challenge in assessment order, most similar first."""
    if not can_see(viewer, invite.assessment):
        return []
    flags: list[SimilarityFlag] = []
    versions = {item.challenge.id: item.challenge for item in invite.assessment.items}
    for version in versions.values():
        submissions = _visible_latest(version, viewer)
        mine = submissions.get(invite.id)
        if mine is None:
            continue
        prints = _fingerprinted(version, submissions)
        found = [
            _flag(version, mine, theirs, prints)
            for other_id, theirs in submissions.items()
            if other_id != invite.id
        ]
        flags.extend(sorted((f for f in found if f), key=lambda f: -f.score))
    return flags


def flags_for_version(version: ChallengeVersion, viewer: User) -> list[SimilarityFlag]:
    """Every flagged pair for this version whose two candidates the viewer can both see; most
    similar first."""
    submissions = _visible_latest(version, viewer)
    prints = _fingerprinted(version, submissions)
    ids = sorted(submissions)
    flags = []
    for index, first in enumerate(ids):
        for second in ids[index + 1 :]:
            flag = _flag(version, submissions[first], submissions[second], prints)
            if flag is not None:
                flags.append(flag)
    return sorted(flags, key=lambda f: -f.score)
