"""Errors as JSON with a readable reason; bad input is a 4xx, never a 500."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException, InternalServerError

log = logging.getLogger(__name__)


class BadInput(ValueError):
    """Input that fails validation; becomes a 4xx (400 unless told) with its message."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def init_app(app: Flask) -> None:
    """Answer HTTP errors on API paths with ``{"error": reason}``."""

    @app.errorhandler(BadInput)
    def bad_input(exc: BadInput):
        return jsonify(error=str(exc)), exc.status

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if isinstance(exc, InternalServerError):
            log.exception("internal error on %s", request.path)
        if request.path.startswith(("/v1/", "/api/")):
            reason = exc.description or exc.name
            if exc.code == 413:
                reason = "request body too large"
            return jsonify(error=reason), exc.code
        return exc
