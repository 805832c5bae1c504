"""The web server's access log, without invite tokens.

An invite token is a candidate's credential. It is in the path of every candidate page and API
call (``/i/<token>/...``, ``/api/v1/invites/<token>/...``) and so in the Referer of the requests
those pages make. The log keeps the route and shows ``[token]`` in its place. The Procfile
starts gunicorn with ``--logger-class app.access_log.RedactingLogger``.
"""

from __future__ import annotations

import re
from typing import Any

from gunicorn.glogging import Logger

TOKEN_IN_PATH = re.compile(r"(/i/|/api/v1/invites/)[^/?#\s\"]+")


def redact_tokens(text: str) -> str:
    return TOKEN_IN_PATH.sub(r"\1[token]", text)


class RedactingLogger(Logger):
    """Gunicorn's logger; every text an access log line can show goes through
    :func:`redact_tokens` (the request line, the path, the Referer, any header or variable a
    custom format names)."""

    def atoms(self, resp: Any, req: Any, environ: dict, request_time: Any) -> dict[str, Any]:
        atoms = super().atoms(resp, req, environ, request_time)
        return {
            key: redact_tokens(value) if isinstance(value, str) else value
            for key, value in atoms.items()
        }
