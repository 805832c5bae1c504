"""The production symptom: start the web app in a fresh interpreter, as the deploy does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import shop

SOURCE = Path(shop.__file__).resolve().parent.parent

WEB_APP = """
import shop.api

status, body = shop.api.post_users({"name": "Ana Souza", "email": "Ana.Souza@Example.COM"})
assert status == 201, (status, body)
print("web app started:", body)
"""


def test_web_app_starts_in_a_fresh_interpreter():
    done = subprocess.run(
        [
            sys.executable,
            "-I",
            "-B",
            "-c",
            f"import sys; sys.path.insert(0, {str(SOURCE)!r})\n{WEB_APP}",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, "the web app crashed at startup:\n" + done.stderr[-2000:]
