"""The report pages' charts, as numbers for the templates to draw.

Bars and lines are inline SVG stretched to the card (``preserveAspectRatio="none"``),
while every word and number on a chart (axis ticks, day labels, legends) is HTML laid
over it: text keeps its CSS size (at least 12 px) whatever the chart's width, where SVG
text shrank with the chart to about 8 px. Axis ticks are "nice" values (0, 5, 10, 15,
20), not fractions of the maximum (0, 8, 17).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ringtrail.reports.queries import DayCount, SourceRow

HEIGHT = 100.0  # the SVG's own units; it is stretched to the card


def nice_ticks(top: float, most: int = 5) -> list[int]:
    """Round tick values from 0 up to at least ``top``, at most ``most`` + 1 of them, with a
    step of 1, 2 or 5 times a power of ten: 17 → [0, 5, 10, 15, 20]."""
    if top <= 0:
        return [0, 1]
    raw = top / most
    power = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    step = max(1, int(step))
    last = math.ceil(top / step) * step
    return list(range(0, last + 1, step))


def _label_every(count: int, most: int = 8) -> int:
    return max(1, math.ceil(count / most))


def day_chart(days: Sequence[DayCount], before: Sequence[DayCount] | None = None) -> dict:
    """Bars of calls per day (answered darker) and, with a comparison, a line of the
    compared period's calls, day i over day i."""
    highest = max([d.calls for d in days] + [d.calls for d in before or ()], default=0)
    ticks = nice_ticks(highest)
    top = ticks[-1]
    count = max(1, len(days))
    step = 100.0 / count
    width = step * 0.72
    every = _label_every(count)
    bars = []
    for i, d in enumerate(days):
        x = i * step + (step - width) / 2
        bars.append(
            {
                "x": round(x, 3),
                "w": round(width, 3),
                "y": round(HEIGHT - HEIGHT * d.calls / top, 3),
                "h": round(HEIGHT * d.calls / top, 3),
                "ay": round(HEIGHT - HEIGHT * d.answered / top, 3),
                "ah": round(HEIGHT * d.answered / top, 3),
                "day": d.day,
                "calls": d.calls,
                "answered": d.answered,
                "before": before[i] if before and i < len(before) else None,
                "label": d.day.strftime("%b %-d") if i % every == 0 else "",
                "center": round(i * step + step / 2, 3),
            }
        )
    line = None
    if before:
        points = [
            f"{round(i * step + step / 2, 3)},{round(HEIGHT - HEIGHT * d.calls / top, 3)}"
            for i, d in enumerate(before[: len(days)])
        ]
        line = " ".join(points)
    return {
        "bars": bars,
        "line": line,
        "ticks": [{"value": t, "pct": round(100 - 100 * t / top, 3)} for t in ticks],
        "total": sum(d.calls for d in days),
        "before_total": None if before is None else sum(d.calls for d in before),
    }


def source_chart(rows: Sequence[SourceRow], limit: int = 8) -> dict:
    """Horizontal bars of calls (answered darker) for the top rows of a source report."""
    shown = [r for r in rows if r.calls][:limit]
    top = max((r.calls for r in shown), default=0) or 1
    return {
        "bars": [
            {
                "label": r.label,
                "calls": r.calls,
                "answered": r.answered,
                "pct": round(100 * r.calls / top, 2),
                "answered_pct": round(100 * r.answered / r.calls, 2) if r.calls else 0,
            }
            for r in shown
        ]
    }
