"""Entry point of the nightly job (read-only in this exercise).

The SFTP server's upload hook runs it as soon as the carrier's file lands (usually about 01:00):
``python nightly.py /srv/sftp/carrier/manifest-2024-05-01.csv /srv/reporting/db.sqlite``.
Billing starts reading the ``shipments`` table at 06:00.
"""

from __future__ import annotations

import logging
import sys
import time

from manifest_import import import_manifest

log = logging.getLogger("nightly")


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: nightly.py MANIFEST_CSV DATABASE", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    started = time.perf_counter()
    summary = import_manifest(argv[0], argv[1])
    elapsed = time.perf_counter() - started
    total = summary.inserted + summary.skipped_invalid + summary.duplicates
    log.info(
        "imported %s in %.1f s (%.0f lines/s): %s",
        argv[0],
        elapsed,
        total / elapsed if elapsed else 0.0,
        summary,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
