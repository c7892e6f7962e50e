"""Text as it arrives, decoded in one place: strict UTF-8, no lone surrogates, no NUL.

Bytes that are not UTF-8 (invalid bytes, overlong forms, encoded surrogates) and text
that is not Unicode (a lone surrogate, which JSON can spell ``"\\ud800"``) cannot be
stored: Redis and SQL encode text as UTF-8, and PostgreSQL refuses NUL. Werkzeug decodes
query strings and forms leniently (bad bytes become U+FFFD) and Python's JSON decoder
keeps lone surrogates, so every door reads text through this module instead:

- :func:`check_request` (before every request but the carrier's) refuses a path, a query
  string or a URL-encoded form that is not valid text;
- :func:`loads` reads a JSON body (the snippet's API, the admin API);
- :func:`decode` reads any other text body (the CSV import);
- :func:`form_fields` reads the carrier's forms, keeping bytes that are not UTF-8 as
  surrogate escapes, because the signature covers the bytes as sent.

Each refusal is :class:`~ringtrail.errors.Invalid` (400) naming what was wrong.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl, unquote_to_bytes

from flask import Flask, request

from ringtrail.errors import Invalid

SURROGATE = re.compile("[\ud800-\udfff]")
# Doors that read their own input: the carrier's webhooks must forward a call whatever
# its form holds (``ringtrail.web.telephony``).
OWN_DECODING = ("telephony",)


def flaw(text: str) -> str | None:
    """Why ``text`` cannot be stored as text, or None if it can."""
    if "\x00" in text:
        return "contains a NUL byte"
    if SURROGATE.search(text):
        return "is not valid Unicode (a lone surrogate)"
    return None


def check(text: str, what: str) -> str:
    """``text`` itself, or Invalid naming ``what`` if it is not storable text."""
    reason = flaw(text)
    if reason is not None:
        raise Invalid(f"{what} {reason}")
    return text


def _utf8(raw: bytes, what: str, encoding: str = "utf-8") -> str:
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError:
        raise Invalid(f"{what} is not valid UTF-8") from None


def decode(raw: bytes, what: str, *, encoding: str = "utf-8") -> str:
    """Bytes as text: strict UTF-8 (``utf-8-sig`` drops a byte order mark), no NUL."""
    return check(_utf8(raw, what, encoding), what)


def loads(raw: bytes, what: str = "body") -> Any:
    """A JSON document whose every string and key is storable text."""
    text = _utf8(raw, what)  # a raw NUL is invalid JSON anyway; an escaped one is checked
    try:
        document = json.loads(text)
    except RecursionError:
        raise Invalid(f"{what} is nested too deeply") from None
    except ValueError:
        raise Invalid(f"{what} is not valid JSON") from None
    _check_strings(document)
    return document


def _check_strings(document: Any) -> None:
    """Refuse a bad string anywhere in a JSON document, naming where it is."""
    stack: list[tuple[str, Any]] = [("", document)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, str):
            check(value, where or "body")
        elif isinstance(value, dict):
            for key, item in value.items():
                name = f"{where}.{key}" if where else key
                check(key, f"a field name in {where or 'body'}")
                stack.append((name, item))
        elif isinstance(value, list):
            stack.extend((f"{where or 'body'}[{i}]", item) for i, item in enumerate(value))


def _unquoted(part: str, what: str) -> str:
    """One URL-encoded name or value (``+`` is a space), strictly decoded."""
    return decode(unquote_to_bytes(part.replace("+", " ")), what)


def check_query(query: bytes, kind: str = "query parameter") -> None:
    """Refuse a query string (or a URL-encoded form) whose names or values are not
    storable text, naming the parameter."""
    for pair in query.split(b"&"):
        name, _, value = pair.decode("latin-1").partition("=")
        label = _unquoted(name, f"a {kind} name")
        _unquoted(value, f"{kind} {label!r}" if label.isprintable() else f"a {kind}")


def form_fields(raw: bytes) -> list[tuple[str, str]]:
    """A URL-encoded form's fields; bytes that are not UTF-8 become surrogate escapes, so
    ``value.encode("utf-8", "surrogateescape")`` gives back exactly what was sent."""
    # One decoding of the body and one of each escape (%XX): half the time of decoding
    # every field as Latin-1 and then again as UTF-8, on the voice webhook's hot path.
    text = raw.decode("utf-8", "surrogateescape")
    return parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="surrogateescape")


def readable(escaped: str) -> str:
    """A value from :func:`form_fields` as text, each bad byte a U+FFFD (as Werkzeug
    decodes forms); NUL stays, so a malformed id still looks malformed."""
    return escaped.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def check_request() -> None:
    """Before a request: its path, query string and URL-encoded form must be valid text."""
    if request.blueprint in OWN_DECODING:
        return
    path = request.environ.get("PATH_INFO", "").encode("latin-1", "replace")
    decode(path, "the URL path")
    query = request.environ.get("QUERY_STRING", "").encode("latin-1", "replace")
    if query:
        check_query(query)
    if request.mimetype == "application/x-www-form-urlencoded":
        # Cached, so that request.form parses the same bytes afterwards.
        check_query(request.get_data(cache=True), "form field")


def init_app(app: Flask) -> None:
    """Check every request's text before anything else reads it."""
    app.before_request_funcs.setdefault(None, []).insert(0, check_request)
