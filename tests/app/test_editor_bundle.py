"""The committed editor bundle is the build of the committed sources.

CI has no Node.js, so it cannot rebuild the bundle; scripts/build-frontend.sh records the
SHA-256 of what it built from and of what it wrote (a reproducible build: the same sources give
the same bytes), and these tests compare that record with the files in the repository.
"""

from __future__ import annotations

import hashlib

from app.config import REPO_ROOT

RECORD = REPO_ROOT / "app/static/dist/editor.js.sha256"
REBUILD = "run scripts/build-frontend.sh and commit frontend/ and app/static/dist/ together"


def recorded() -> dict[str, str]:
    pairs = (line.split(maxsplit=1) for line in RECORD.read_text().splitlines() if line.strip())
    return {path.strip(): digest for digest, path in pairs}


def test_every_source_and_the_bundle_match_what_the_build_recorded():
    stale = [
        path
        for path, digest in recorded().items()
        if hashlib.sha256((REPO_ROOT / path).read_bytes()).hexdigest() != digest
    ]
    assert not stale, f"changed since the bundle was built: {', '.join(stale)}; {REBUILD}"


def test_the_record_covers_every_source_file_of_the_bundle():
    sources = {
        str(path.relative_to(REPO_ROOT)) for path in (REPO_ROOT / "frontend/src").glob("*.js")
    }
    unrecorded = sources - set(recorded())
    assert not unrecorded, f"not in the build record: {', '.join(sorted(unrecorded))}; {REBUILD}"
    assert {"frontend/package-lock.json", "app/static/dist/editor.js"} <= set(recorded())
