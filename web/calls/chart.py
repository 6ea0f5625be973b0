"""A small server-rendered SVG chart of calls per day (answered versus missed), no JavaScript needed."""

from __future__ import annotations

from flask_babel import gettext as _
from markupsafe import Markup, escape

from clusterpbx.control.calllog import DayFigures


def chart_svg(days: list[DayFigures], width: int = 720, height: int = 140) -> Markup:
    days = days[-62:]
    top = max((d.answered + d.missed for d in days), default=0) or 1
    bar = max(2, (width - 40) // max(1, len(days)) - 2)
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height + 24}" role="img" '
             f'aria-label="{escape(_("Calls per day"))}" xmlns="http://www.w3.org/2000/svg">']
    for i, d in enumerate(days):
        x = 30 + i * (bar + 2)
        h_ans = round(height * d.answered / top)
        h_mis = round(height * d.missed / top)
        title = escape(_("%(day)s: %(answered)d answered, %(missed)d missed, %(incoming)d incoming, "
                         "%(outgoing)d outgoing", day=d.day.isoformat(), answered=d.answered, missed=d.missed,
                         incoming=d.incoming, outgoing=d.outgoing))
        parts.append(f'<g><title>{title}</title>'
                     f'<rect class="ans" x="{x}" y="{height - h_ans}" width="{bar}" height="{h_ans}"/>'
                     f'<rect class="mis" x="{x}" y="{height - h_ans - h_mis}" width="{bar}" height="{h_mis}"/>'
                     f'</g>')
    parts.append(f'<text x="0" y="12" class="axis">{top}</text>')
    if days:
        parts.append(f'<text x="30" y="{height + 18}" class="axis">{days[0].day.isoformat()}</text>')
        parts.append(f'<text x="{width - 90}" y="{height + 18}" class="axis">{days[-1].day.isoformat()}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 (every interpolated text above is escaped)
