"""Words on pages for people: counts with their noun in the right number.

``plural(1, "visitor")`` is "1 visitor" and ``plural(2, "visitor")`` "2 visitors"; a noun
whose plural is not an added "s" names it (``plural(n, "company", "companies")``).
Templates have it as a filter: ``{{ n|plural('visitor') }}``.
"""

from __future__ import annotations

from flask import Flask

# Plurals that are not the noun plus "s".
IRREGULAR = {"person": "people", "day": "days", "entry": "entries", "company": "companies"}


def plural(count: int | float | None, noun: str, plural_form: str | None = None) -> str:
    """The count and its noun: "1 visitor", "0 visitors", "2.5 hours"."""
    n = 0 if count is None else count
    shown = f"{n:,}" if isinstance(n, int) else f"{n:g}"
    if n == 1:
        return f"{shown} {noun}"
    many = (
        plural_form
        or IRREGULAR.get(noun)
        or (noun[:-1] + "ies" if noun.endswith("y") and noun[-2:-1] not in "aeiou" else noun + "s")
    )
    return f"{shown} {many}"


def init_app(app: Flask) -> None:
    """Give every template the ``plural`` filter."""
    app.add_template_filter(plural, "plural")
