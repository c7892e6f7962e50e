"""Bulk import of tracking numbers from CSV: every row good, or nothing imported.

The CSV has a ``number`` column and optional ``role`` and ``source`` columns (a header
row is optional; without one the columns are taken in that order). Numbers are
normalised to E.164 with ``phonenumbers``. A row is rejected, with its reason, when the
number is malformed, repeated in the file, or already in another pool; a number already
in this very pool is left as it is, so importing the same file twice is harmless.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ringtrail.accounts import audit
from ringtrail.accounts.auth import Principal
from ringtrail.accounts.configuration import commit_config, require_editor
from ringtrail.accounts.tenancy import conditions
from ringtrail.errors import Invalid, RowError, Unprocessable
from ringtrail.phones import parse as e164
from ringtrail.storage.models import Pool, TrackingNumber
from ringtrail.terms import CONTROL, NUMBER_ROLES

MAX_ROWS = 10_000
COLUMNS = ("number", "role", "source")


class ImportRejected(Unprocessable):
    """Some rows are bad; nothing was imported."""

    def __init__(self, rows: list[RowError]):
        super().__init__(f"{len(rows)} row(s) rejected; nothing was imported", rows)


@dataclass
class ImportResult:
    imported: int = 0
    unchanged: int = 0
    numbers: list[str] = field(default_factory=list)


def parse(text: str) -> list[tuple[int, dict[str, str]]]:
    """(row number, {number, role, source}) for each non-empty CSV row."""
    if "\x00" in text:
        raise Invalid("the CSV contains NUL bytes")
    reader = csv.reader(io.StringIO(text))
    rows: list[tuple[int, dict[str, str]]] = []
    header: tuple[str, ...] = COLUMNS
    try:
        for index, cells in enumerate(reader, start=1):
            cells = [c.strip() for c in cells]
            if not any(cells):
                continue
            if index == 1 and cells[0].lower() in ("number", "phone", "phone_number", "e164"):
                header = tuple("number" if i == 0 else c.lower() for i, c in enumerate(cells))
                unknown = set(header) - set(COLUMNS)
                if unknown:
                    raise Invalid(f"unknown CSV column(s): {', '.join(sorted(unknown))}")
                continue
            if len(rows) >= MAX_ROWS:
                raise Invalid(f"at most {MAX_ROWS} rows per import")
            rows.append((index, dict(zip(header, cells, strict=False))))
    except csv.Error as exc:
        raise Invalid(f"not a CSV file: {exc}") from exc
    if not rows:
        raise Invalid("the CSV has no numbers")
    return rows


def import_numbers(
    db: Session, p: Principal, pool: Pool, text: str, region: str = "US"
) -> ImportResult:
    """Validate every row, then add them all in one transaction (or raise ImportRejected)."""
    require_editor(p)
    rows = parse(text)
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    wanted: list[tuple[str, str, str | None]] = []
    for index, row in rows:
        raw = row.get("number", "")
        try:
            number = e164(raw, region)
        except ValueError as exc:
            errors.append(RowError(index, raw[:40], str(exc)))
            continue
        role = (row.get("role") or "pool").lower()
        source = (row.get("source") or "").strip() or None
        if role not in NUMBER_ROLES:
            errors.append(
                RowError(index, raw[:40], f"role must be one of {', '.join(NUMBER_ROLES)}")
            )
            continue
        if role == "source" and not source:
            errors.append(RowError(index, raw[:40], "a source number needs a source"))
            continue
        if source and (len(source) > 100 or CONTROL.search(source)):
            errors.append(RowError(index, raw[:40], "source is too long or has control characters"))
            continue
        if number in seen:
            errors.append(RowError(index, raw[:40], f"{number} is repeated (row {seen[number]})"))
            continue
        seen[number] = index
        wanted.append((number, role, source))

    existing = {}
    numbers = list(seen)
    for start in range(0, len(numbers), 500):
        chunk = numbers[start : start + 500]
        for tn in db.scalars(select(TrackingNumber).where(TrackingNumber.number.in_(chunk))):
            existing[tn.number] = tn
    visible_pools = (
        set(db.scalars(select(Pool.id).where(*conditions(Pool, p)))) if existing else set()
    )
    result = ImportResult()
    for number, _role, _source in wanted:
        tn = existing.get(number)
        if tn is None:
            continue
        if tn.pool_id == pool.id:
            result.unchanged += 1
            continue
        where = f"pool {tn.pool_id}" if tn.pool_id in visible_pools else "another pool"
        errors.append(RowError(seen[number], number, f"{number} is already in {where}"))
    if errors:
        raise ImportRejected(sorted(errors, key=lambda e: e.row))

    for number, role, source in wanted:
        if number in existing:
            continue
        db.add(TrackingNumber(pool_id=pool.id, number=number, role=role, source=source))
        result.imported += 1
        result.numbers.append(number)
    audit.record(
        db,
        "import",
        "pool",
        pool.id,
        {"imported": result.imported, "unchanged": result.unchanged, "numbers": result.numbers},
        principal=p,
        agency_id=pool.site.client.agency_id,
    )
    commit_config(db)
    return result


def describe_errors(rows: list[RowError]) -> list[dict[str, Any]]:
    """Row errors as JSON."""
    return [{"row": r.row, "value": r.value, "error": r.error} for r in rows]
