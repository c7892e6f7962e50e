"""Security headers, in one place, for every answer.

- Every answer: ``X-Content-Type-Options: nosniff``.
- Pages and data for people and scripts (the dashboard, the admin API, the demo): never
  cached (``Cache-Control: no-store`` unless the view chose), never framed, and no
  referrer beyond the site itself.
- The snippet, the public API and the carrier's routes set their own caching.
"""

from __future__ import annotations

from flask import Flask, Response, request

PRIVATE_BLUEPRINTS = frozenset({"dashboard", "reportpages", "compliance", "api", "demo"})


def secure(response: Response) -> Response:
    """Add the headers every answer of its kind carries (a view's own choice stands)."""
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    if request.blueprint in PRIVATE_BLUEPRINTS:
        response.headers.setdefault("Cache-Control", "no-store")
    if response.headers.get("Content-Type", "").startswith("text/html"):  # no header parse
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def init_app(app: Flask) -> None:
    """Apply :func:`secure` to every answer."""
    app.after_request(secure)
