"""HTML forms into schema input: the same schemas as the admin API, so both doors accept
and refuse the same things, with the same messages.

A form that sends a field it does not have is refused, never half applied: 403 with the
reason for a field only an agency admin may change (``locked``: the page shows such
fields to others disabled, so only a forged request sends one), 400 for any other field
the form does not know."""

from __future__ import annotations

from typing import Any

from flask import Response, flash, request, session
from marshmallow import Schema, ValidationError, fields

from ringtrail.errors import Forbidden, Invalid, RingtrailError
from ringtrail.web.errors import status_of

# Form plumbing, not settings: the CSRF token and where to go back to.
PLUMBING = ("csrf_token", "back")


def check_fields(accepted: set[str], locked: tuple[str, ...] = ()) -> None:
    """Refuse a form that sends a ``locked`` field (403) or one it does not accept (400)."""
    sent = set(request.form) - set(PLUMBING)
    if forbidden := sorted(sent & set(locked)):
        raise Forbidden(f"only an agency admin may change {', '.join(forbidden)}")
    if unknown := sorted(sent - accepted):
        raise Invalid(f"unknown field: {', '.join(unknown)}")


def form_data(
    schema: Schema,
    checkboxes: tuple[str, ...] = (),
    *,
    extra: tuple[str, ...] = (),
    locked: tuple[str, ...] = (),
) -> dict[str, Any]:
    """The form's fields, typed for ``schema`` (HTML forms send only text).

    ``extra`` names the fields the view reads itself; ``locked`` those this person may
    not change. Any other field refuses the whole form (see the module doc).
    """
    fields_in = {n: f for n, f in schema.fields.items() if not f.dump_only and n not in locked}
    check_fields(set(fields_in) | set(extra), locked)
    data: dict[str, Any] = {}
    for name, field in fields_in.items():
        if name in checkboxes:
            data[name] = name in request.form
            continue
        if name not in request.form:
            continue
        value = request.form.get(name, "")
        if isinstance(field, fields.Integer):
            if value.strip() == "" and field.allow_none:
                data[name] = None
                continue
            try:
                value = int(value)
            except ValueError:
                raise ValidationError({name: ["must be a whole number"]}) from None
        elif isinstance(field, fields.List):
            value = [line.strip() for line in value.splitlines() if line.strip()]
        elif value.strip() == "" and field.allow_none:
            value = None
        elif isinstance(field, fields.Boolean):  # a select of "true" and "false"
            value = {"true": True, "false": False}.get(value, value)
        else:
            value = value.strip()  # what people type may end in a space; an API call may not
        data[name] = value
    return data


def flash_invalid(exc: ValidationError) -> None:
    """Flash each field's reasons, one message per field."""
    for name, reasons in exc.normalized_messages().items():
        flash(f"{name.replace('_', ' ')}: {'; '.join(map(str, reasons))}", "error")


def load_form(
    schema: Schema, checkboxes: tuple[str, ...] = (), *, locked: tuple[str, ...] = ()
) -> dict[str, Any] | None:
    """Validated form data, or None with the reasons flashed."""
    try:
        return schema.load(form_data(schema, checkboxes, locked=locked))
    except ValidationError as exc:
        flash_invalid(exc)
        return None


def flash_refusal(exc: RingtrailError) -> int:
    """Flash why a service refused, and return the status the page answers with."""
    flash(exc.reason, "error")
    status = status_of(exc)
    return status if 400 <= status < 500 else 422


# -- what was typed survives a refusal -------------------------------------------------
#
# A refused form either answers its page again (the page reads ``request.form``) or
# flashes the reason and redirects; then what was typed rides along in the session for
# the one page that follows, so nobody types a form twice. Secrets never do.

KEPT = "kept_form"
SECRET_PARTS = ("password", "token", "secret", "code", "csv")
MAX_KEPT = 4000  # characters per field: a session cookie is small


def _typed_values() -> dict[str, str]:
    return {
        name: value[:MAX_KEPT]
        for name, value in request.form.items()
        if name not in PLUMBING and not any(part in name for part in SECRET_PARTS)
    }


def _refused_now() -> bool:
    return any(category == "error" for category, _ in session.get("_flashes", ()))


def keep_after_refusal(response: Response) -> Response:
    """After a refused POST that redirects, keep what was typed for the next page."""
    if request.method == "POST" and response.status_code in (302, 303) and _refused_now():
        session[KEPT] = {"endpoint": request.endpoint, "values": _typed_values()}
    return response


def take_kept() -> None:
    """The page after a refusal takes what was kept (once: a later visit starts clean)."""
    if request.method == "GET" and KEPT in session:
        request.environ[KEPT] = session.pop(KEPT)  # this request's, not the app context's


def _typed_source(endpoint: str, match: dict[str, Any]) -> Any:
    if request.method == "POST" and request.endpoint == endpoint:
        source: Any = request.form
    else:
        kept = request.environ.get(KEPT) or {}
        source = kept.get("values") if kept.get("endpoint") == endpoint else None
    if source is None or any(str(source.get(k, "")) != str(v) for k, v in match.items()):
        return None
    return source


def typed(endpoint: str, name: str, default: Any = "", **match: Any) -> Any:
    """What was typed into ``name`` of the form that posts to ``endpoint``, after a
    refusal; else ``default``. ``match`` picks one of several such forms on a page
    (``client_id=3``: the form whose hidden client_id is 3)."""
    source = _typed_source(endpoint, match)
    return default if source is None else source.get(name, "")


def typed_box(endpoint: str, name: str, default: bool, **match: Any) -> bool:
    """Whether a checkbox was ticked, after a refusal; else ``default``."""
    source = _typed_source(endpoint, match)
    return default if source is None else name in source
