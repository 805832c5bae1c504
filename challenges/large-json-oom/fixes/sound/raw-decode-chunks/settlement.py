"""Nightly settlement import: the net amount owed to each merchant account.

The acquirer drops one export per settlement batch on the shared volume (the format is described
in ``exports.py``) and the worker calls :func:`summarize_export` with its path. The acquirer's
serializer promises neither key order nor whitespace: ``meta`` may come before or after
``records``, other top-level keys may appear, and a file may be pretty-printed or on one line.

The top-level object is walked by hand over a sliding window of the file, and every value in it
(each record, ``meta``, anything else) is decoded by the standard library's decoder, so only one
record and one chunk of text are in memory at a time.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections import defaultdict
from typing import Any, TextIO

from exports import ExportError, SettlementSummary, net_amount

logger = logging.getLogger(__name__)

CHUNK_CHARS = 64 * 1024
MAX_VALUE_CHARS = 4 * 1024 * 1024  # one record (or meta) larger than this is malformed
_DECODER = json.JSONDecoder()
_NOT_SPACE = re.compile(r"[^ \t\n\r]")


class _Window:
    """The unread part of a text file: ``text[pos:]`` plus whatever is still on disk."""

    def __init__(self, handle: TextIO) -> None:
        self._handle = handle
        self.text = ""
        self.pos = 0
        self.offset = 0  # characters dropped from the front of ``text`` so far

    def fill(self) -> bool:
        chunk = self._handle.read(CHUNK_CHARS)
        if not chunk:
            return False
        self.offset += self.pos
        self.text = self.text[self.pos :] + chunk
        self.pos = 0
        return True

    def peek(self) -> str:
        """The next character that is not whitespace, ``""`` at the end of the file."""
        while True:
            match = _NOT_SPACE.search(self.text, self.pos)
            if match:
                self.pos = match.start()
                return self.text[self.pos]
            self.pos = len(self.text)
            if not self.fill():
                return ""

    def expect(self, allowed: str) -> str:
        char = self.peek()
        if not char or char not in allowed:
            found = repr(char) if char else "the end of the file"
            raise ExportError(f"expected one of {allowed!r} at {self.where()}, found {found}")
        self.pos += 1
        return char

    def value(self) -> Any:
        """Decode the next JSON value, reading more of the file while it is cut off."""
        self.peek()
        while True:
            try:
                value, end = _DECODER.raw_decode(self.text, self.pos)
            except json.JSONDecodeError as exc:
                if len(self.text) - self.pos < MAX_VALUE_CHARS and self.fill():
                    continue
                raise ExportError(f"malformed JSON at {self.where()}: {exc.msg}") from exc
            if end == len(self.text) and self.fill():
                continue  # a number at the end of the window may go on in the next chunk
            self.pos = end
            return value

    def where(self) -> str:
        return f"character {self.offset + self.pos}"


def summarize_export(path: str | os.PathLike[str]) -> SettlementSummary:
    """Read the export at ``path`` and total the net cents per payee account.

    Invalid records are counted and skipped. Raises :class:`ExportError` when the file is not a
    valid export: malformed JSON, no ``meta`` object or ``records`` list, or a ``record_count``
    in ``meta`` that does not match the number of records.
    """
    meta: Any = None
    records_seen = False
    totals: defaultdict[str, int] = defaultdict(int)
    count = invalid = 0
    try:
        with open(path, encoding="utf-8") as handle:
            window = _Window(handle)
            window.expect("{")
            if window.peek() == "}":
                window.pos += 1
            else:
                while True:
                    key = window.value()
                    if not isinstance(key, str):
                        raise ExportError(f"expected a key at {window.where()}")
                    window.expect(":")
                    if key == "records" and window.peek() == "[":
                        records_seen = True
                        window.expect("[")
                        if window.peek() == "]":
                            window.pos += 1
                        else:
                            while True:
                                count += 1
                                entry = net_amount(window.value())
                                if entry is None:
                                    invalid += 1
                                else:
                                    totals[entry[0]] += entry[1]
                                if window.expect(",]") == "]":
                                    break
                    elif key == "meta":
                        meta = window.value()
                    else:
                        window.value()
                    if window.expect(",}") == "}":
                        break
            if window.peek():
                raise ExportError(f"unexpected data after the export at {window.where()}")
    except UnicodeDecodeError as exc:
        raise ExportError(f"{os.fspath(path)} is not UTF-8 text: {exc}") from exc

    if not isinstance(meta, dict):
        raise ExportError("the export has no meta object")
    if not records_seen:
        raise ExportError("the export has no records list")
    declared = meta.get("record_count")
    if declared != count:
        raise ExportError(f"meta declares {declared!r} records, the export has {count}")
    if invalid:
        logger.warning("batch %s: skipped %d invalid records", meta.get("batch_id"), invalid)
    return SettlementSummary(
        batch_id=str(meta.get("batch_id", "")),
        currency=str(meta.get("currency", "")),
        records=count,
        invalid=invalid,
        totals=dict(totals),
    )
