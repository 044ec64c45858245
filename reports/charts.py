"""Server-side SVG charts: a line chart over days and a horizontal bar chart.

Charts are `role="img"` with a title and a one-sentence description; the numbers are in the
table next to each chart. Several series differ by dash pattern as well as colour, so they
read in greyscale too.
"""

from dataclasses import dataclass

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 72, 16, 16, 40
PALETTE = (("#1d4ed8", ""), ("#b45309", "6 4"), ("#047857", "2 3"))


@dataclass(frozen=True)
class Series:
    label: str
    values: list  # float or None (no data that day)


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    step = 10 ** (len(str(int(value))) - 1) if value >= 1 else 0.1
    for factor in (1, 2, 2.5, 5, 10):
        if value <= step * factor * 4:
            return step * factor * 4
    return value


def line_chart(*, title: str, description: str, labels: list[str], series: list[Series],
               fmt=lambda v: f"{v:g}", y_max: float | None = None,
               y_min: float = 0.0) -> SafeString:
    plotted = [v for s in series for v in s.values if v is not None]
    top = y_max if y_max is not None else _nice_max(max(plotted, default=0))
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    count = max(len(labels), 1)

    def x(i):
        return LEFT + (inner_w * i / (count - 1) if count > 1 else inner_w / 2)

    def y(v):
        return TOP + inner_h * (1 - (v - y_min) / (top - y_min))

    parts = [format_html('<title id="{}">{}</title><desc>{}</desc>', _id(title), title,
                         description)]
    for k in range(5):
        value = y_min + (top - y_min) * k / 4
        parts.append(format_html(
            '<line x1="{}" x2="{}" y1="{}" y2="{}" class="grid"/>'
            '<text x="{}" y="{}" class="tick" text-anchor="end">{}</text>',
            LEFT, WIDTH - RIGHT, _n(y(value)), _n(y(value)), LEFT - 6, _n(y(value) + 4),
            fmt(value)))
    step = max(1, round(count / 5))
    for i in range(0, count, step):
        parts.append(format_html('<text x="{}" y="{}" class="tick" text-anchor="middle">{}'
                                 '</text>', _n(x(i)), HEIGHT - 14, labels[i]))
    for (color, dash), s in zip(PALETTE, series, strict=False):
        runs, run = [], []
        for i, v in enumerate(s.values):
            if v is None:
                runs, run = runs + [run] if run else runs, []
            else:
                run.append(f"{x(i):.1f},{y(max(min(v, top), y_min)):.1f}")
        runs += [run] if run else []
        for points in runs:
            parts.append(format_html(
                '<polyline points="{}" fill="none" stroke="{}" stroke-width="2.5"'
                ' stroke-dasharray="{}"/>', " ".join(points), color, dash))
            if len(points) == 1:
                cx, cy = points[0].split(",")
                parts.append(format_html('<circle cx="{}" cy="{}" r="3" fill="{}"/>',
                                         cx, cy, color))
    legend = "".join(
        format_html('<li><svg width="28" height="10" aria-hidden="true"><line x1="0" x2="28" '
                    'y1="5" y2="5" stroke="{}" stroke-width="3" stroke-dasharray="{}"/></svg>'
                    ' {}</li>', color, dash, s.label)
        for (color, dash), s in zip(PALETTE, series, strict=False))
    svg = format_html('<svg viewBox="0 0 {} {}" role="img" aria-labelledby="{}" class="chart">'
                      '{}</svg>', WIDTH, HEIGHT, _id(title), mark_safe("".join(parts)))
    return format_html('<figure class="chart-figure"><figcaption>{}</figcaption>{}'
                       '<ul class="legend">{}</ul></figure>', title, svg, mark_safe(legend))


def bar_chart(*, title: str, description: str, bars: list[tuple[str, float | None]],
              fmt=lambda v: f"{v:g}") -> SafeString:
    row, label_w = 34, 150
    height = TOP + row * max(len(bars), 1) + 8
    top = _nice_max(max((v for _, v in bars if v is not None), default=0))
    inner_w = WIDTH - label_w - RIGHT - 60
    parts = [format_html('<title id="{}">{}</title><desc>{}</desc>', _id(title), title,
                         description)]
    for i, (label, value) in enumerate(bars):
        y = TOP + i * row
        width = 0 if value is None else inner_w * value / top
        parts.append(format_html(
            '<text x="{}" y="{}" class="tick" text-anchor="end">{}</text>'
            '<rect x="{}" y="{}" width="{}" height="{}" fill="#1d4ed8"/>'
            '<text x="{}" y="{}" class="tick">{}</text>',
            label_w - 8, y + 20, label, label_w, y + 4, _n(width), row - 10,
            _n(label_w + width + 6), y + 20, "–" if value is None else fmt(value)))
    return format_html('<figure class="chart-figure"><figcaption>{}</figcaption>'
                       '<svg viewBox="0 0 {} {}" role="img" aria-labelledby="{}" class="chart">'
                       '{}</svg></figure>', title, WIDTH, height, _id(title),
                       mark_safe("".join(parts)))


def _n(value: float) -> str:
    return f"{value:.1f}"


def _id(title: str) -> str:
    return "chart-" + "".join(c if c.isalnum() else "-" for c in escape(title).lower())[:40]
