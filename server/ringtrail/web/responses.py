"""Answers that stream: CSV downloads and recordings."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from flask import Response, stream_with_context

from ringtrail.reports.exports import write_rows
from ringtrail.telephony.carrier import Media


def csv_response(filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Response:
    """A streamed CSV download (formula-safe rows from ``reports.exports``)."""
    safe_name = "".join(c if c.isalnum() or c in "-_." else "-" for c in filename)
    response = Response(write_rows(header, rows), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{safe_name}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


def recording_response(media: Media, call_id: int, fmt: str) -> Response:
    """A recording streamed from the carrier to the listener, never cached."""
    response = Response(stream_with_context(media.chunks()), mimetype=media.content_type)
    if media.length is not None:
        response.headers["Content-Length"] = str(media.length)
    response.headers["Cache-Control"] = "no-store, private"
    response.headers["Content-Disposition"] = f'inline; filename="call-{call_id}.{fmt}"'
    return response
