"""HTML forms into schema input: the same schemas as the admin API, so both doors accept
and refuse the same things, with the same messages."""

from __future__ import annotations

from typing import Any

from flask import flash, request
from marshmallow import Schema, ValidationError, fields

from ringtrail.errors import RingtrailError
from ringtrail.web.errors import status_of


def form_data(schema: Schema, checkboxes: tuple[str, ...] = ()) -> dict[str, Any]:
    """The form's fields that ``schema`` knows, typed for it (HTML forms send only text)."""
    data: dict[str, Any] = {}
    for name, field in schema.fields.items():
        if field.dump_only:
            continue
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


def load_form(schema: Schema, checkboxes: tuple[str, ...] = ()) -> dict[str, Any] | None:
    """Validated form data, or None with the reasons flashed."""
    try:
        return schema.load(form_data(schema, checkboxes))
    except ValidationError as exc:
        flash_invalid(exc)
        return None


def flash_refusal(exc: RingtrailError) -> int:
    """Flash why a service refused, and return the status the page answers with."""
    flash(exc.reason, "error")
    status = status_of(exc)
    return status if 400 <= status < 500 else 422
