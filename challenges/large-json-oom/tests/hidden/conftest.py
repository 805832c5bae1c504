"""Hidden-check fixtures: a folder of exports the judge writes and owns.

The judge's own temporary folder is private to its uid, so the exports live in a fresh folder
under the shared ``/tmp``: readable by the candidate host's uid, writable by the judge's only
(the file the candidate's code reads is the one the judge wrote). ``/tmp`` is a small tmpfs in
the sandbox that counts against the container's memory: the folder goes as soon as the check
ends.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

SHARED_TMP = "/tmp"


class ExportFolder:
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="exports-", dir=SHARED_TMP))
        self.root.chmod(0o755)

    def path(self, name: str) -> Path:
        return self.root / name

    def seal(self, path: Path) -> str:
        """Make a written export readable by the host's uid; its path, as the host gets it."""
        path.chmod(0o644)
        return str(path)

    def write(
        self,
        name: str,
        writer: Callable[[Path, list[Any], dict[str, Any]], Path],
        records: list[Any],
        meta: dict[str, Any],
    ) -> str:
        return self.seal(writer(self.path(name), records, meta))

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def exports() -> Iterator[ExportFolder]:
    folder = ExportFolder()
    try:
        yield folder
    finally:
        folder.close()
