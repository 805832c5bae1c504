"""Headers every response gets."""

from __future__ import annotations

from flask import Flask, Response, request

# Every page: nothing loads from anywhere but this server (uploaded Markdown cannot pull in
# scripts), and a page that shows an invite token cannot leak it to other sites by Referer.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


# Served over HTTPS (directly, or behind a proxy that says so and is trusted: PROXY_HOPS), the
# browser is told to use nothing else for a year.
HSTS = "max-age=31536000; includeSubDomains"


def security_headers(response: Response) -> Response:
    if request.endpoint != "static":
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def init_app(app: Flask) -> None:
    app.after_request(security_headers)
