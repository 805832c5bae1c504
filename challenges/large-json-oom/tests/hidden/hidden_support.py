"""Exports to feed the settlement import, what it must return for them, and a memory probe.

The expected summaries are computed here from the documented record rules, independently of the
candidate's code and of ``exports.py``.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ACCOUNTS = [f"acc_{n:04d}" for n in range(180)] + [
    "acc_zoë",
    "acc_müller",
    "acc_東京",
    "acc_crème",
]
NAMES = [
    "Café Zoë",
    "Bäckerei Müller",
    "東京ラーメン",
    'The "Quoted" Deli',
    "Back\\slash Bikes",
    "Tab\tand\nnewline Ltd",
    "Plain Shop",
]
EMOJI_NAMES = ["Pizza 🍕 Bar", "Grin 😀 Games"]  # outside the BMP: surrogate pairs when escaped
SIGN = {"settled": 1, "refunded": -1, "failed": 0}
STATUSES = ["settled", "settled", "settled", "refunded", "failed"]

META = {
    "batch_id": "2024-03-01-A",
    "currency": "EUR",
    "generated_at": "2024-03-02T01:00:00Z",
    "source": {"system": "acq-export-v2", "records": "see top level"},
}


def _break(record: dict[str, Any], kind: int) -> Any:
    """One of the ways a record breaks the format (``kind`` picks which)."""
    broken: list[Any] = [
        {key: value for key, value in record.items() if key != "payee"},
        {**record, "payee": "acc_0001"},
        {**record, "payee": {"name": "No Account"}},
        {**record, "payee": {"account": "", "name": "Empty"}},
        {**record, "payee": {"account": 42}},
        {**record, "amount_cents": "1250"},
        {**record, "amount_cents": -5},
        {**record, "amount_cents": 12.5},
        {**record, "amount_cents": True},
        {**record, "amount_cents": None},
        {**record, "status": "chargeback"},
        {key: value for key, value in record.items() if key != "status"},
        {**record, "status": ["settled"]},
        {**record, "fees": {"kind": "interchange", "cents": 1}},
        {**record, "fees": [{"kind": "interchange", "cents": False}]},
        {**record, "fees": [{"kind": "interchange"}]},
        {**record, "fees": [{"kind": "scheme", "cents": -1}]},
        {**record, "fees": ["12"]},
        "txn_broken",
        None,
        [record["id"], 1250],
        7,
    ]
    return broken[kind % len(broken)]


def make_records(count: int, seed: int, *, bmp_only: bool = False) -> list[Any]:
    """``count`` records: mostly valid, some invalid in every documented way, some deeply nested."""
    rng = random.Random(seed)
    names = NAMES if bmp_only else NAMES + EMOJI_NAMES
    records: list[Any] = []
    for number in range(count):
        account = ACCOUNTS[rng.randrange(len(ACCOUNTS))]
        record: dict[str, Any] = {
            "id": f"txn_{seed}_{number:06d}",
            "payee": {"account": account, "name": names[number % len(names)], "mcc": "5812"},
            "amount_cents": rng.randrange(100, 500_000),
            "fees": [
                {"kind": kind, "cents": rng.randrange(0, 90)}
                for kind in ("interchange", "scheme")[: number % 3]
            ],
            "status": STATUSES[number % len(STATUSES)],
            "captured_at": f"2024-03-01T{number % 24:02d}:{number % 60:02d}:07Z",
        }
        if number % 4 == 1:
            del record["fees"]  # fees are optional
        if number % 7 == 2:  # nested extras a record may carry, including keys named like ours
            record["merchant"] = {
                "address": {"lines": ["1 Rue de Rivoli", "75001 Paris"], "geo": [48.86, 2.35]},
                "tags": [],
                "meta": {"records": [1, 2, 3], "note": None},
            }
            record["meta"] = {"terminal": "pos-7", "records": []}
        if number % 97 == 13:
            record["amount_cents"] = 123_456_789_012_345_678_901  # bigger than 64 bits
        if number % 11 == 5:
            records.append(_break(record, number // 11))
        else:
            records.append(record)
    return records


def expected_entry(record: Any) -> tuple[str, int] | None:
    """``(account, net cents)`` for a valid record, ``None`` for an invalid one (the rules of the
    export format, written independently of the code under test)."""

    def cents(value: Any) -> bool:
        return type(value) is int and value >= 0

    if type(record) is not dict:
        return None
    payee = record.get("payee")
    if type(payee) is not dict or type(payee.get("account")) is not str or not payee["account"]:
        return None
    status = record.get("status")
    if type(status) is not str or status not in SIGN or not cents(record.get("amount_cents")):
        return None
    fees = record.get("fees", [])
    if type(fees) is not list or not all(type(f) is dict and cents(f.get("cents")) for f in fees):
        return None
    sign = SIGN[status]
    if sign == 0:
        return payee["account"], 0
    return payee["account"], sign * record["amount_cents"] - sum(f["cents"] for f in fees)


def expected_summary(records: Iterable[Any], meta: dict[str, Any], repeat: int = 1) -> dict:
    totals: dict[str, int] = {}
    count = invalid = 0
    for record in records:
        count += 1
        entry = expected_entry(record)
        if entry is None:
            invalid += 1
            continue
        totals[entry[0]] = totals.get(entry[0], 0) + entry[1] * repeat
    return {
        "batch_id": meta["batch_id"],
        "currency": meta["currency"],
        "records": count * repeat,
        "invalid": invalid * repeat,
        "totals": totals,
    }


def summary_dict(summary: Any) -> dict[str, Any]:
    return {
        "batch_id": summary.batch_id,
        "currency": summary.currency,
        "records": summary.records,
        "invalid": summary.invalid,
        "totals": dict(summary.totals),
    }


def describe_difference(got: dict[str, Any], want: dict[str, Any]) -> str:
    """A short, human description of how a summary differs from the expected one."""
    problems = [
        f"{key} {got.get(key)!r} (expected {want[key]!r})"
        for key in ("batch_id", "currency", "records", "invalid")
        if got.get(key) != want[key]
    ]
    got_totals, want_totals = got.get("totals") or {}, want["totals"]
    missing = sorted(set(want_totals) - set(got_totals))
    extra = sorted(set(got_totals) - set(want_totals))
    wrong = sorted(a for a in set(want_totals) & set(got_totals) if got_totals[a] != want_totals[a])
    if missing:
        problems.append(f"{len(missing)} accounts missing from totals (e.g. {missing[0]!r})")
    if extra:
        problems.append(f"{len(extra)} unexpected accounts in totals (e.g. {extra[0]!r})")
    if wrong:
        account = wrong[0]
        problems.append(
            f"{len(wrong)} accounts with a wrong total (e.g. {account!r}: "
            f"{got_totals[account]!r}, expected {want_totals[account]!r})"
        )
    return "; ".join(problems)


# --- writing exports ----------------------------------------------------------------------


def _meta(meta: dict[str, Any], record_count: int) -> dict[str, Any]:
    return {**meta, "record_count": record_count}


def write_vendor(path: Path, records: list[Any], meta: dict[str, Any]) -> Path:
    """The acquirer's usual layout: ``records`` first, one record per line, ``meta`` last.

    Every third record is written with ``\\u`` escapes, so the same account appears both
    escaped and as raw UTF-8 in one file.
    """
    lines = [
        json.dumps(record, ensure_ascii=number % 3 == 0) for number, record in enumerate(records)
    ]
    body = ",\n".join(lines)
    text = (
        '{"records": [\n'
        + body
        + ("\n" if lines else "")
        + "],\n"
        + f'"meta": {json.dumps(_meta(meta, len(records)), ensure_ascii=False)}}}\n'
    )
    path.write_text(text, encoding="utf-8")
    return path


def write_pretty_meta_first(path: Path, records: list[Any], meta: dict[str, Any]) -> Path:
    """Pretty-printed, ``meta`` first, every non-ASCII character escaped."""
    document = {"meta": _meta(meta, len(records)), "records": records}
    path.write_text(json.dumps(document, indent=2, ensure_ascii=True), encoding="utf-8")
    return path


def write_minified_extra_keys(path: Path, records: list[Any], meta: dict[str, Any]) -> Path:
    """One line, raw UTF-8, and other top-level keys around ``records`` (one holding its own
    ``records`` and ``meta`` keys)."""
    document = {
        "schema": {
            "version": 2,
            "records": [{"field": "id", "type": "string"}, {"field": "payee", "type": "object"}],
            "meta": {"record_count": "integer"},
        },
        "records": records,
        "links": {"self": "sftp://acquirer/exports/2024-03-01-A.json", "pages": [None, 1, True]},
        "meta": _meta(meta, len(records)),
        "signature": "3f9a0c",
    }
    path.write_text(
        json.dumps(document, separators=(",", ":"), ensure_ascii=False), encoding="utf-8"
    )
    return path


def write_big_vendor(path: Path, target_mb: float, seed: int) -> tuple[dict[str, Any], float]:
    """An export of about ``target_mb`` MB in the vendor layout, written block by block.

    Returns the summary it must produce and its size in MB.
    """
    block_records = make_records(1000, seed, bmp_only=True)
    lines = []
    for record in block_records:
        if isinstance(record, dict):
            record = {**record, "id": record["id"] + "_@BLOCK@"}
        lines.append(json.dumps(record, ensure_ascii=False))
    block = ",\n".join(lines)
    blocks = max(1, round(target_mb * 1024 * 1024 / (len(block.encode()) + 2)))
    with path.open("w", encoding="utf-8") as handle:
        handle.write('{"records": [\n')
        for number in range(blocks):
            if number:
                handle.write(",\n")
            handle.write(block.replace("@BLOCK@", f"{number:05d}"))
        meta = _meta(META, len(block_records) * blocks)
        handle.write(f'\n],\n"meta": {json.dumps(meta, ensure_ascii=False)}}}\n')
    size_mb = path.stat().st_size / (1024 * 1024)
    return expected_summary(block_records, META, repeat=blocks), size_mb


# --- measuring a run in a child process ---------------------------------------------------

CHILD_ADDRESS_SPACE_MB = 512  # a runaway child gets MemoryError, not the sandbox's OOM killer

# The worker: a fresh interpreter that summarizes one export and writes the summary to a file.
_WORKER = """
import json, sys
sys.path.insert(0, sys.argv[1])
import settlement
summary = settlement.summarize_export(sys.argv[2])
with open(sys.argv[3], "w", encoding="utf-8") as out:
    json.dump({
        "batch_id": summary.batch_id, "currency": summary.currency,
        "records": summary.records, "invalid": summary.invalid,
        "totals": dict(summary.totals),
    }, out, ensure_ascii=False)
"""

# The launcher starts the worker and reports the kernel's peak-RSS figure for it (wait4). A
# process's peak RSS includes the memory of the process it was forked from, so the worker is
# forked from this small launcher rather than from the test process.
_LAUNCHER = """
import os, resource, sys
limit = int(sys.argv[1])
pid = os.fork()
if pid == 0:
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    os.execv(sys.executable, [sys.executable, "-c", sys.argv[2], *sys.argv[3:]])
_, status, usage = os.wait4(pid, 0)
print(usage.ru_maxrss, os.waitstatus_to_exitcode(status))
"""


@dataclass
class ChildRun:
    peak_mb: float  # the worker's peak resident set size, as the kernel accounted it
    seconds: float
    summary: dict[str, Any] | None
    error: str  # empty when the worker exited cleanly and wrote its summary


def run_in_child(module_dir: Path, export: Path, scratch: Path, timeout: float) -> ChildRun:
    """Summarize ``export`` with the ``settlement`` module found in ``module_dir``, in a fresh
    interpreter, and measure that interpreter's peak resident memory."""
    result_path = scratch / f"result-{export.stem}-{time.monotonic_ns()}.json"
    stderr_path = result_path.with_suffix(".stderr")
    limit = CHILD_ADDRESS_SPACE_MB * 1024 * 1024
    command = [sys.executable, "-I", "-S", "-c", _LAUNCHER, str(limit), _WORKER]
    command += [str(module_dir), str(export), str(result_path)]
    started = time.perf_counter()
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            command,
            cwd=module_dir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            start_new_session=True,
        )
        try:
            out, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            out = b""
    seconds = time.perf_counter() - started
    peak_mb, returncode = 0.0, None
    fields = out.split()
    if len(fields) == 2:
        peak_mb, returncode = int(fields[0]) / 1024, int(fields[1])
    summary = None
    error = ""
    if seconds >= timeout:
        error = f"did not finish within {timeout:.0f} s"
    elif returncode != 0:
        tail = stderr_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        last = tail[-1] if tail else f"exit status {returncode}"
        if "MemoryError" in last:
            last += f" (address space capped at {CHILD_ADDRESS_SPACE_MB} MB)"
        error = f"failed: {last[:300]}"
    else:
        try:
            summary = json.loads(result_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            error = f"wrote no summary ({exc})"
    for leftover in (result_path, stderr_path):
        leftover.unlink(missing_ok=True)
    return ChildRun(peak_mb=peak_mb, seconds=seconds, summary=summary, error=error)
