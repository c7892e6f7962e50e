"""The demo: its data (``seed.py``) and its pages (``pages.py``), for ``ringtrail demo`` only.

``ringtrail serve`` runs :func:`ringtrail.create_app`, which never has the demo's pages,
even on an install where ``ringtrail seed-demo`` was run.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from ringtrail import create_app
from ringtrail.demo.seed import seed_demo

__all__ = ["create_demo_app", "seed_demo"]


def create_demo_app(test_config: dict[str, Any] | None = None) -> Flask:
    """The app with the demo's pages: what ``ringtrail demo`` serves."""
    from ringtrail.demo import pages
    from ringtrail.web.login import exempt_from_csrf

    app = create_app(test_config)
    exempt_from_csrf(pages.bp)
    app.register_blueprint(pages.bp)
    return app
