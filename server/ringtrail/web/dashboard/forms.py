"""HTML forms into schema input: the same schemas as the admin API, so both doors accept
and refuse the same things, with the same messages.

A form that sends a field it does not have is refused, never half applied: 403 with the
reason for a field only an agency admin may change (``locked``: the page shows such
fields to others disabled, so only a forged request sends one), 400 for any other field
the form does not know."""

from __future__ import annotations

from typing import Any

from flask import flash, request
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
