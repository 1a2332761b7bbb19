"""Small inline-SVG charts for the HTML report: stacked bars, a waterfall, paired bars, lines (pure).

Each function takes plain numbers and labels and returns one ``<svg class="chart">`` element as
text: no JavaScript, no external file, so the report opens offline in any browser. Every mark has
a ``<title>`` (a hover tooltip) and ``class="mark"``, which the report's check script counts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from html import escape
from typing import Final

__all__ = ["PALETTE", "hbars", "lines", "stacked_bars", "waterfall"]

PALETTE: Final = (
    "#2563eb", "#f97316", "#16a34a", "#dc2626", "#9333ea", "#0891b2", "#ca8a04", "#db2777", "#4b5563",
    "#65a30d",
)  # fmt: skip
_W: Final = 860
_PAD_L: Final = 72
_PAD_R: Final = 16
_PAD_T: Final = 16
_PAD_B: Final = 44

Fmt = Callable[[float], str]


def _scale(value: float) -> tuple[float, float]:
    """A round axis top at or above ``value`` and its tick step: 3 to 5 steps of 1, 2, 2.5 or 5 × 10^k."""
    if value <= 0:
        return 1.0, 0.25
    raw = value / 5
    exp = math.floor(math.log10(raw))
    step = 10.0 ** (exp + 1)
    for m in (1, 2, 2.5, 5):
        if m * 10**exp >= raw * (1 - 1e-9):
            step = m * 10**exp
            break
    return math.ceil(value / step - 1e-9) * step, step


def _nice_max(value: float) -> float:
    return _scale(value)[0]


def _open(height: int, label: str, kind: str) -> str:
    return (
        f'<svg class="chart" data-kind="{kind}" viewBox="0 0 {_W} {height}" width="100%" role="img" '
        f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">'
    )


def _axis(height: int, top: float, fmt: Fmt) -> list[str]:
    out = []
    plot_h = height - _PAD_T - _PAD_B
    step = _scale(top)[1] if top != 1.0 else 0.25
    ticks = max(1, round(top / step))
    for i in range(ticks + 1):
        value = step * i
        y = _PAD_T + plot_h - plot_h * value / top
        out.append(f'<line x1="{_PAD_L}" x2="{_W - _PAD_R}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        out.append(
            f'<text x="{_PAD_L - 6}" y="{y + 4:.1f}" class="tick" text-anchor="end">{escape(fmt(value))}</text>'
        )
    return out


def _x_labels(labels: Sequence[str], x_of: Callable[[int], float], height: int) -> list[str]:
    every = max(1, math.ceil(len(labels) / 12))
    return [
        f'<text x="{x_of(i):.1f}" y="{height - _PAD_B + 16}" class="tick" text-anchor="middle">{escape(lab)}</text>'
        for i, lab in enumerate(labels)
        if i % every == 0
    ]


def _legend(keys: Sequence[str], colors: Mapping[str, str], height: int) -> list[str]:
    out, x = [], float(_PAD_L)
    for key in keys:
        out.append(f'<rect x="{x:.1f}" y="{height - 14}" width="10" height="10" fill="{colors[key]}"/>')
        out.append(f'<text x="{x + 14:.1f}" y="{height - 5}" class="legend">{escape(key)}</text>')
        x += 24 + 7 * len(key)
    return out


def _empty(height: int, label: str, kind: str) -> str:
    return (
        _open(height, label, kind)
        + f'<text x="{_W / 2}" y="{height / 2}" class="empty" text-anchor="middle">no data</text></svg>'
    )


def stacked_bars(
    labels: Sequence[str],
    stacks: Sequence[Mapping[str, float]],
    keys: Sequence[str],
    *,
    label: str,
    fmt: Fmt,
    height: int = 300,
    colors: Mapping[str, str] | None = None,
) -> str:
    """One bar per label, stacked by ``keys`` (in order), with a legend (``colors`` by key, optional)."""
    totals = [sum(max(0.0, s.get(k, 0.0)) for k in keys) for s in stacks]
    if not labels or max(totals, default=0) <= 0:
        return _empty(height, label, "stacked")
    colors = {k: (colors or {}).get(k) or PALETTE[i % len(PALETTE)] for i, k in enumerate(keys)}
    top = _nice_max(max(totals))
    plot_w, plot_h = _W - _PAD_L - _PAD_R, height - _PAD_T - _PAD_B - 14
    slot = plot_w / len(labels)
    bar = max(1.0, slot * 0.7)
    parts = [_open(height, label, "stacked"), *_axis(height - 14, top, fmt)]
    for i, stack in enumerate(stacks):
        y = float(_PAD_T + plot_h)
        for key in keys:
            value = max(0.0, stack.get(key, 0.0))
            if value <= 0:
                continue
            h = plot_h * value / top
            y -= h
            x = _PAD_L + i * slot + (slot - bar) / 2
            parts.append(
                f'<rect class="mark" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{max(h, 0.5):.1f}" '
                f'fill="{colors[key]}"><title>{escape(labels[i])} · {escape(key)}: {escape(fmt(value))}</title></rect>'
            )
    parts += _x_labels(labels, lambda i: _PAD_L + (i + 0.5) * slot, height - 14)
    parts += _legend(keys, colors, height)
    return "".join(parts) + "</svg>"


def waterfall(
    start: tuple[str, float], steps: Sequence[tuple[str, float]], end: str, *, label: str, fmt: Fmt
) -> str:
    """From ``start`` down by each step's saving to the ``end`` total (a saving is a positive number)."""
    height = 300
    if start[1] <= 0:
        return _empty(height, label, "waterfall")
    names = [start[0], *(s[0] for s in steps), end]
    top = _nice_max(start[1])
    plot_w, plot_h = _W - _PAD_L - _PAD_R, height - _PAD_T - _PAD_B
    slot = plot_w / len(names)
    bar = slot * 0.6

    def y_of(v: float) -> float:
        return _PAD_T + plot_h - plot_h * v / top

    parts = [_open(height, label, "waterfall"), *_axis(height, top, fmt)]
    level = start[1]
    bars = [(start[0], 0.0, level, "#4b5563")]
    for name, saving in steps:
        bars.append((name, level - saving, level, "#16a34a"))
        level -= saving
    bars.append((end, 0.0, level, "#2563eb"))
    for i, (name, low, high, color) in enumerate(bars):
        x = _PAD_L + i * slot + (slot - bar) / 2
        y1, y0 = y_of(high), y_of(low)
        text = fmt(high - low) if i in (0, len(bars) - 1) else f"−{fmt(high - low)}"
        parts.append(
            f'<rect class="mark" x="{x:.1f}" y="{y1:.1f}" width="{bar:.1f}" height="{max(y0 - y1, 1.0):.1f}" '
            f'fill="{color}"><title>{escape(name)}: {escape(text)}</title></rect>'
        )
        parts.append(
            f'<text x="{x + bar / 2:.1f}" y="{y1 - 4:.1f}" class="value" text-anchor="middle">{escape(text)}</text>'
        )
    parts += _x_labels(names, lambda i: _PAD_L + (i + 0.5) * slot, height)
    return "".join(parts) + "</svg>"


def hbars(rows: Sequence[tuple[str, float, float]], *, label: str, fmt: Fmt, names: tuple[str, str]) -> str:
    """Two horizontal bars per row (today and after), longest first."""
    if not rows or max(max(a, b) for _, a, b in rows) <= 0:
        return _empty(200, label, "hbars")
    row_h, left = 34, 220
    height = _PAD_T + row_h * len(rows) + 30
    top = _nice_max(max(max(a, b) for _, a, b in rows))
    plot_w = _W - left - _PAD_R - 80
    parts = [_open(height, label, "hbars")]
    for i, (name, today, after) in enumerate(rows):
        y = _PAD_T + i * row_h
        short = name if len(name) <= 30 else name[:29] + "…"
        parts.append(
            f'<text x="{left - 8}" y="{y + 17}" class="tick" text-anchor="end">{escape(short)}</text>'
        )
        for j, (value, color, which) in enumerate(
            ((today, "#4b5563", names[0]), (after, "#16a34a", names[1]))
        ):
            w = max(1.0, plot_w * value / top) if value > 0 else 0.0
            yy = y + 3 + j * 13
            parts.append(
                f'<rect class="mark" x="{left}" y="{yy}" width="{w:.1f}" height="11" fill="{color}">'
                f"<title>{escape(name)} · {escape(which)}: {escape(fmt(value))}</title></rect>"
            )
            parts.append(
                f'<text x="{left + w + 4:.1f}" y="{yy + 9}" class="value">{escape(fmt(value))}</text>'
            )
    legend_y = height - 8
    parts.append(f'<rect x="{left}" y="{legend_y - 9}" width="10" height="10" fill="#4b5563"/>')
    parts.append(f'<text x="{left + 14}" y="{legend_y}" class="legend">{escape(names[0])}</text>')
    parts.append(f'<rect x="{left + 90}" y="{legend_y - 9}" width="10" height="10" fill="#16a34a"/>')
    parts.append(f'<text x="{left + 104}" y="{legend_y}" class="legend">{escape(names[1])}</text>')
    return "".join(parts) + "</svg>"


def lines(
    labels: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    *,
    label: str,
    fmt: Fmt,
    top: float = 1.0,
) -> str:
    """One polyline per series over shared x labels (gaps where a value is None)."""
    height = 280
    if not labels or not any(v is not None for values in series.values() for v in values):
        return _empty(height, label, "lines")
    plot_w, plot_h = _W - _PAD_L - _PAD_R, height - _PAD_T - _PAD_B - 14
    step = plot_w / max(1, len(labels) - 1)
    colors = {k: PALETTE[i % len(PALETTE)] for i, k in enumerate(series)}
    parts = [_open(height, label, "lines"), *_axis(height - 14, top, fmt)]
    for name, values in series.items():
        segments: list[list[tuple[float, float, float]]] = [[]]
        for i, v in enumerate(values):
            if v is None:  # no calls in this bucket: the line breaks instead of bridging the gap
                segments.append([])
                continue
            x = _PAD_L + i * step if len(labels) > 1 else _PAD_L + plot_w / 2
            segments[-1].append((x, _PAD_T + plot_h - plot_h * v / top, v))
        for points in (seg for seg in segments if seg):
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in points)
            parts.append(
                f'<polyline class="mark" points="{path}" fill="none" stroke="{colors[name]}" stroke-width="2">'
                f"<title>{escape(name)}</title></polyline>"
            )
            for x, y, v in points:
                parts.append(
                    f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{colors[name]}"><title>{escape(name)}: {escape(fmt(v))}</title></circle>'
                )
    parts += _x_labels(labels, lambda i: _PAD_L + i * step, height - 14)
    parts += _legend(list(series), colors, height)
    return "".join(parts) + "</svg>"
