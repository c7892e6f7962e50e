"""Time zones, in one place: the zone database's names, read from what people type.

A client's days (reports, business hours) are in its IANA zone. People rarely type
"America/Chicago": :func:`resolve` also takes a zone's city alone ("Chicago",
"new york", "Sao_Paulo"), in any case, when one zone has it, and a refusal names the
zones meant (:class:`UnknownZone`), so no one is refused without a suggestion.
:func:`grouped` lists the zones by region for the picker.
"""

from __future__ import annotations

import difflib
import unicodedata
from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

# Regions people pick from; the database's other names (US/Central, Etc/GMT+6, EST)
# still resolve, but the picker does not offer them.
REGIONS = ("America", "Europe", "Asia", "Africa", "Australia", "Pacific", "Atlantic", "Indian")
MAX_SUGGESTIONS = 3


class UnknownZone(ValueError):
    """Text that is not one zone; ``suggestions`` are the zones it may mean."""

    def __init__(self, text: str, suggestions: list[str]):
        self.text = text
        self.suggestions = suggestions
        if len(suggestions) == 1:
            hint = f": did you mean {suggestions[0]}?"
        elif suggestions:
            hint = f": did you mean {', '.join(suggestions[:-1])} or {suggestions[-1]}?"
        else:
            hint = ": pick one from the list, such as America/Chicago or Europe/London"
        super().__init__(f"unknown time zone {text!r}{hint}")


@lru_cache(maxsize=1)
def zones() -> tuple[str, ...]:
    """Every zone name the database knows, plus UTC, sorted."""
    return tuple(sorted(available_timezones() | {"UTC"}))


def _key(text: str) -> str:
    """A name folded for matching: no accents, no case, spaces and underscores alike."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return plain.strip().lower().replace(" ", "_").replace("-", "_")


@lru_cache(maxsize=1)
def _index() -> tuple[dict[str, str], dict[str, list[str]]]:
    """Folded full names → zone, and folded last parts ("chicago") → zones."""
    full: dict[str, str] = {}
    cities: dict[str, list[str]] = {}
    for name in zones():
        full[_key(name)] = name
        cities.setdefault(_key(name.rsplit("/", 1)[-1]), []).append(name)
    return full, cities


def _preferred(names: list[str]) -> list[str]:
    """Zones of a city, the regional spelling first (America/Chicago before US/Central)."""
    return sorted(names, key=lambda n: (n.split("/", 1)[0] not in REGIONS, n.count("/"), n))


def resolve(text: str) -> str:
    """The zone ``text`` names: its exact name, any case, or a city one zone has."""
    if not isinstance(text, str) or not text.strip() or len(text) > 64:
        raise UnknownZone(str(text)[:64], [])
    full, cities = _index()
    key = _key(text)
    if key in full:
        return full[key]
    by_city = _preferred(cities.get(key.rsplit("/", 1)[-1], []))
    regional = [n for n in by_city if n.split("/", 1)[0] in REGIONS]
    if len(regional) == 1 or (len(by_city) == 1):
        return (regional or by_city)[0]
    if len(regional) > 1 and _same_clock(regional):
        # Old and new spellings of one city (America/Indianapolis is a link to
        # America/Indiana/Indianapolis): the database's current, longer name.
        return max(regional, key=lambda n: n.count("/"))
    if by_city:
        raise UnknownZone(text.strip(), by_city[:MAX_SUGGESTIONS])
    raise UnknownZone(text.strip(), suggest(text))


# Instants that tell zones apart: both halves of the year, before and after rule changes.
_PROBES = tuple(datetime(y, m, 1, 12, tzinfo=UTC) for y in (1975, 2000, 2010, 2026) for m in (1, 7))


def _same_clock(names: list[str]) -> bool:
    """Whether the zones keep the same time (spellings of one zone, by every probe)."""
    first = ZoneInfo(names[0])
    return all(
        at.astimezone(ZoneInfo(n)).utcoffset() == at.astimezone(first).utcoffset()
        for n in names[1:]
        for at in _PROBES
    )


def suggest(text: str) -> list[str]:
    """Zones whose name or city is close to ``text`` (a typo: "Chicgo")."""
    full, cities = _index()
    key = _key(text)
    near = difflib.get_close_matches(key.rsplit("/", 1)[-1], list(cities), MAX_SUGGESTIONS, 0.75)
    out = [_preferred(cities[c])[0] for c in near]
    out += [full[k] for k in difflib.get_close_matches(key, list(full), MAX_SUGGESTIONS, 0.75)]
    return list(dict.fromkeys(out))[:MAX_SUGGESTIONS]


def offset_label(name: str, now: datetime | None = None) -> str:
    """The zone's offset from UTC now, "UTC−06:00" (a minus sign, for reading)."""
    offset = (now or datetime.now(UTC)).astimezone(ZoneInfo(name)).utcoffset()
    minutes = round(offset.total_seconds() / 60) if offset is not None else 0
    sign = "+" if minutes >= 0 else "−"
    hours, mins = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours:02d}:{mins:02d}"


def grouped(now: datetime | None = None) -> list[tuple[str, list[tuple[str, str]]]]:
    """The picker's zones by region: [(region, [(zone, "Chicago (UTC−06:00)"), ...])]."""
    groups: dict[str, list[tuple[str, str]]] = {r: [] for r in REGIONS}
    for name in zones():
        region, _, place = name.partition("/")
        if region in groups and place:
            city = place.replace("_", " ").replace("/", " / ")
            groups[region].append((name, f"{city} ({offset_label(name, now)})"))
    groups["UTC"] = [("UTC", "UTC (UTC+00:00)")]
    return [(region, items) for region, items in groups.items() if items]
