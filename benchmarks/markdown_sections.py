"""Writing a benchmark's figures into its own section of docs/benchmarks.md."""

from __future__ import annotations

from pathlib import Path


def replace_section(path: Path, heading: str, section: str) -> None:
    """Put ``section`` in place of the file's ``heading`` section (up to the next "## "
    heading), keeping the rest; append it when the file has no such section."""
    text = path.read_text() if path.exists() else "# Benchmarks\n\n"
    if heading not in text:
        path.write_text(text.rstrip("\n") + "\n\n" + section)
        return
    before, rest = text.split(heading, 1)
    after = rest[rest.find("\n## ") + 1 :] if "\n## " in rest else ""
    path.write_text(before + section + ("\n" + after if after else ""))
