"""A line's traffic over the last days as an SVG drawn on the server (no script, no third-party code):
two lines, towards the member and from the member, with day marks and the top of the scale in Mbit/s,
and a sentence saying the same for screen readers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape

WIDTH, HEIGHT = 720, 180
LEFT, RIGHT, TOP, BOTTOM = 56, 8, 10, 24


@dataclass(frozen=True, slots=True)
class Point:
    at: datetime
    to_member_bps: float
    from_member_bps: float


def _nice_top(value: float) -> float:
    """A round top for the scale at or above ``value`` (bit/s): 1, 2 or 5 times a power of ten."""
    if value <= 0:
        return 1_000_000.0
    power = 1.0
    while power * 10 <= value:
        power *= 10
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power


def traffic_svg(
    points: Sequence[Point], *, start: datetime, end: datetime, zone: str, labels: dict[str, str]
) -> Markup:
    """The graph from ``start`` to ``end``; ``labels`` gives the words: title, to_member, from_member,
    summary (with ``%(peak)s`` for the highest rate in Mbit/s)."""
    span = (end - start).total_seconds() or 1.0
    top = _nice_top(max((max(p.to_member_bps, p.from_member_bps) for p in points), default=0.0))
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(at: datetime) -> float:
        return LEFT + inner_w * (at - start).total_seconds() / span

    def y(bps: float) -> float:
        return TOP + inner_h * (1 - min(bps, top) / top)

    def polyline(values: list[tuple[datetime, float]], colour: str, name: str) -> str:
        if not values:
            return ""
        coords = " ".join(f"{x(at):.1f},{y(v):.1f}" for at, v in values)
        return (
            f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="1.5">'
            f"<title>{escape(name)}</title></polyline>"
        )

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" '
        f'aria-labelledby="traffic-title traffic-desc" class="traffic-graph">',
        f'<title id="traffic-title">{escape(labels["title"])}</title>',
        f'<desc id="traffic-desc">{escape(labels["summary"] % {"peak": f"{top_seen(points) / 1e6:.1f}"})}</desc>',
        f'<rect x="{LEFT}" y="{TOP}" width="{inner_w}" height="{inner_h}" fill="none" stroke="#999" '
        'stroke-width="0.5"/>',
        f'<text x="{LEFT - 4}" y="{TOP + 8}" text-anchor="end" font-size="10">{top / 1e6:g} Mbit/s</text>',
        f'<text x="{LEFT - 4}" y="{TOP + inner_h}" text-anchor="end" font-size="10">0</text>',
    ]
    local = ZoneInfo(zone)
    day = start.astimezone(local).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    while day < end.astimezone(local):
        mark = x(day)
        parts.append(
            f'<line x1="{mark:.1f}" y1="{TOP}" x2="{mark:.1f}" y2="{TOP + inner_h}" stroke="#ccc" stroke-width="0.5"/>'
        )
        parts.append(f'<text x="{mark + 2:.1f}" y="{HEIGHT - 8}" font-size="10">{day:%d.%m.}</text>')
        day += timedelta(days=1)
    parts.append(polyline([(p.at, p.to_member_bps) for p in points], "#1f6fb2", labels["to_member"]))
    parts.append(polyline([(p.at, p.from_member_bps) for p in points], "#d2691e", labels["from_member"]))
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - numbers and escaped words only


def top_seen(points: Sequence[Point]) -> float:
    return max((max(p.to_member_bps, p.from_member_bps) for p in points), default=0.0)
