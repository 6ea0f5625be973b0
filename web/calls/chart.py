"""A small server-rendered SVG chart of calls per day (answered versus missed), no JavaScript needed.
Every day of the period has its bar slot, days without calls included."""

from __future__ import annotations

from flask_babel import gettext as _
from markupsafe import Markup, escape

from clusterpbx.control.calllog import DayFigures

MAX_BAR = 48  # a short period keeps narrow bars rather than one bar across the whole chart


def chart_svg(days: list[DayFigures], width: int = 720, height: int = 140) -> Markup:
    top = max((d.answered + d.missed for d in days), default=0)
    scale = top or 1
    slot = (width - 40) / max(1, len(days))
    bar = max(2.0, min(MAX_BAR, slot - 2))
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height + 24}" role="img" '
             f'aria-label="{escape(_("Calls per day"))}" xmlns="http://www.w3.org/2000/svg">',
             f'<line class="base" x1="30" y1="{height}" x2="{width - 10}" y2="{height}"/>']
    for i, d in enumerate(days):
        x = round(30 + i * slot + (slot - bar) / 2, 1)
        h_ans = round(height * d.answered / scale)
        h_mis = round(height * d.missed / scale)
        title = escape(_("%(day)s: %(answered)d answered, %(missed)d missed, %(incoming)d incoming, "
                         "%(outgoing)d outgoing", day=d.day.isoformat(), answered=d.answered, missed=d.missed,
                         incoming=d.incoming, outgoing=d.outgoing))
        parts.append(f'<g class="day" data-day="{d.day.isoformat()}"><title>{title}</title>'
                     f'<rect class="slot" x="{x}" y="0" width="{round(bar, 1)}" height="{height}"/>'
                     f'<rect class="ans" x="{x}" y="{height - h_ans}" width="{round(bar, 1)}" height="{h_ans}"/>'
                     f'<rect class="mis" x="{x}" y="{height - h_ans - h_mis}" width="{round(bar, 1)}" '
                     f'height="{h_mis}"/></g>')
    parts.append(f'<text x="0" y="12" class="axis">{top}</text>')
    if days:
        parts.append(f'<text x="30" y="{height + 18}" class="axis">{days[0].day.isoformat()}</text>')
        if len(days) > 1:
            parts.append(f'<text x="{width - 10}" y="{height + 18}" class="axis" text-anchor="end">'
                         f'{days[-1].day.isoformat()}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 (every interpolated text above is escaped)
