"""The key a visit is counted under: source, medium, campaign, keyword and landing page.

Visits are counted where they happen (the lease script, or :meth:`PoolStore.count_visit`
for a visit that took no lease), one Redis hash field per combination of the five, per
pool and UTC day. The field is a JSON array, so values holding "|" stay whole; counts
kept before campaign, keyword and landing page were counted read as "source|medium".
The field holds what the visit already holds, aggregated: nothing that names a visitor.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import urlsplit

LIMITS = {"source": 100, "medium": 100, "campaign": 200, "keyword": 200, "landing_page": 300}


def landing_path(url: str) -> str:
    """The landing page as reports show it: the path, "/" for an empty one, no query."""
    try:
        return urlsplit(url).path[: LIMITS["landing_page"]] or "/"
    except ValueError:
        return ""


@dataclass(frozen=True)
class VisitKey:
    """What one visit is counted by."""

    source: str
    medium: str
    campaign: str = ""
    keyword: str = ""
    landing_page: str = ""

    def __post_init__(self) -> None:
        for name, limit in LIMITS.items():
            object.__setattr__(self, name, str(getattr(self, name) or "")[:limit])

    @property
    def field(self) -> str:
        """The Redis hash field this visit increments."""
        parts = [self.source, self.medium, self.campaign, self.keyword, self.landing_page]
        return json.dumps(parts, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def parse(cls, field: str) -> VisitKey:
        """The key of a hash field, in either the current or the older form."""
        if field.startswith("["):
            try:
                parts = json.loads(field)
            except ValueError:
                parts = None
            if isinstance(parts, list) and len(parts) == 5:
                return cls(*(str(p) for p in parts))
        source, _, medium = field.partition("|")
        return cls(source, medium)
