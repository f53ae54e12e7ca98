"""Tiny inline-SVG charts for the self-contained HTML report (no JS, no plotting package).

Each function returns an `<svg>` string: grouped bars (real vs synthetic), overlaid
histograms, line charts and a heatmap. Text is escaped; sizes are fixed in viewBox units so
the page scales with the browser.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

REAL, SYN, THIRD = "#1f77b4", "#ff7f0e", "#2ca02c"
PALETTE = (REAL, SYN, THIRD, "#d62728", "#9467bd", "#8c564b")


def _fmt(v: float) -> str:
    if v == 0 or not math.isfinite(v):
        return "0" if v == 0 else str(v)
    a = abs(v)
    if a >= 1e5 or a < 1e-3:
        return f"{v:.2e}"
    return f"{v:.3g}"


def _frame(w: int, h: int, body: list[str], title: str) -> str:
    t = html.escape(title)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" '
            f'height="{h}" role="img" aria-label="{t}"><title>{t}</title>'
            f'<rect width="{w}" height="{h}" fill="white"/>{"".join(body)}</svg>')


def _legend(names: Sequence[str], x: float, y: float) -> list[str]:
    out = []
    for i, name in enumerate(names):
        out.append(f'<rect x="{x + i * 110}" y="{y - 9}" width="10" height="10" '
                   f'fill="{PALETTE[i]}"/><text x="{x + i * 110 + 14}" y="{y}" '
                   f'font-size="11">{html.escape(name)}</text>')
    return out


def _finite(v: float | None) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v)


def bars(labels: Sequence[str], series: dict[str, Sequence[float | None]], title: str,
         w: int = 360, h: int = 220) -> str:
    """Grouped vertical bars, one group per label (category shares, histogram bins).

    A missing value (None / NaN: a score sdmetrics could not compute) draws no bar but a
    grey "n/a" mark at the axis, so it cannot pass for a zero.
    """
    left, right, top, bottom = 40, 10, 24, 58
    pw, ph = w - left - right, h - top - bottom
    vmax = max([max((x for x in v if _finite(x)), default=0) for v in series.values()]
               + [1e-12])
    n, k = max(len(labels), 1), max(len(series), 1)
    gw = pw / n
    bw = gw * 0.85 / k
    head = f'<text x="{left}" y="14" font-size="12" font-weight="bold">{html.escape(title)}</text>'
    body = [head,
            f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" stroke="#444"/>',
            f'<text x="{left - 4}" y="{top + 8}" font-size="9" '
            f'text-anchor="end">{_fmt(vmax)}</text>',
            f'<text x="{left - 4}" y="{top + ph}" font-size="9" text-anchor="end">0</text>']
    for si, values in enumerate(series.values()):
        for i, v in enumerate(values):
            x = left + i * gw + gw * 0.075 + si * bw
            if not _finite(v):
                body.append(f'<text x="{x + bw / 2:.1f}" y="{top + ph - 2}" font-size="8" '
                            f'fill="#888" text-anchor="middle">n/a</text>')
                continue
            bh = ph * (v / vmax) if v > 0 else 0
            body.append(f'<rect x="{x:.1f}" y="{top + ph - bh:.1f}" width="{bw:.1f}" '
                        f'height="{bh:.1f}" fill="{PALETTE[si]}" fill-opacity="0.8"/>')
    step = max(1, math.ceil(n / 8))  # at most ~8 tick labels keep the axis readable
    for i in range(0, n, step):
        x = left + (i + 0.5) * gw
        body.append(f'<text x="{x:.1f}" y="{top + ph + 12}" font-size="9" text-anchor="end" '
                    f'transform="rotate(-30 {x:.1f} {top + ph + 12})">'
                    f'{html.escape(str(labels[i])[:14])}</text>')
    body += _legend(list(series), left, h - 4)
    return _frame(w, h, body, title)


def lines(xs: Sequence[float], series: dict[str, Sequence[float]], title: str,
          w: int = 360, h: int = 220, x_label: str = "") -> str:
    """Line chart sharing one x axis (training curves), the axis named by `x_label`."""
    left, right, top, bottom = 48, 10, 24, 46
    pw, ph = w - left - right, h - top - bottom
    vals = [v for s in series.values() for v in s if math.isfinite(v)] or [0.0]
    lo, hi = min(vals), max(vals)
    hi = hi if hi > lo else lo + 1
    x0, x1 = (min(xs), max(xs)) if len(xs) else (0, 1)
    x1 = x1 if x1 > x0 else x0 + 1
    head = f'<text x="{left}" y="14" font-size="12" font-weight="bold">{html.escape(title)}</text>'
    body = [head,
            f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>',
            f'<text x="{left - 4}" y="{top + 8}" font-size="9" text-anchor="end">{_fmt(hi)}</text>',
            f'<text x="{left - 4}" y="{top + ph}" font-size="9" '
            f'text-anchor="end">{_fmt(lo)}</text>',
            f'<text x="{left}" y="{top + ph + 12}" font-size="9">{_fmt(x0)}</text>',
            f'<text x="{left + pw}" y="{top + ph + 12}" font-size="9" text-anchor="end">'
            f'{_fmt(x1)}</text>']
    if x_label:
        body.append(f'<text class="x-label" x="{left + pw / 2:.1f}" y="{top + ph + 24}" '
                    f'font-size="10" text-anchor="middle">{html.escape(x_label)}</text>')
    for si, values in enumerate(series.values()):
        pts = " ".join(f"{left + pw * (x - x0) / (x1 - x0):.1f},"
                       f"{top + ph * (hi - v) / (hi - lo):.1f}"
                       for x, v in zip(xs, values) if math.isfinite(v))
        body.append(f'<polyline points="{pts}" fill="none" stroke="{PALETTE[si]}" '
                    f'stroke-width="1.5"/>')
    body += _legend(list(series), left, h - 4)
    return _frame(w, h, body, title)


def heatmap(names: Sequence[str], matrix: Sequence[Sequence[float | None]], title: str,
            vmax: float = 1.0) -> str:
    """Square heatmap, white (0) to red (vmax); None cells grey. Values printed in cells."""
    n = len(names)
    cell = max(18, min(44, 520 // max(n, 1)))
    left, top = 110, 30
    w, h = left + n * cell + 10, top + n * cell + 90
    body = [f'<text x="4" y="16" font-size="12" font-weight="bold">{html.escape(title)}</text>']
    for i, row in enumerate(matrix):
        y = top + i * cell
        body.append(f'<text x="{left - 4}" y="{y + cell * 0.65:.1f}" font-size="10" '
                    f'text-anchor="end">{html.escape(str(names[i])[:16])}</text>')
        for j, v in enumerate(row):
            x = left + j * cell
            if v is None or not math.isfinite(v):
                fill, label = "#e0e0e0", ""
            else:
                t = max(0.0, min(1.0, v / vmax))
                g = int(255 * (1 - t))
                fill, label = f"rgb(255,{g},{g})", f"{v:.2f}"
            body.append(f'<rect x="{x}" y="{y}" width="{cell}" height="{cell}" fill="{fill}" '
                        f'stroke="white"/>')
            if label and cell >= 28:
                body.append(f'<text x="{x + cell / 2}" y="{y + cell * 0.62:.1f}" font-size="8" '
                            f'text-anchor="middle">{label}</text>')
    for j, name in enumerate(names):
        x = left + j * cell + cell / 2
        y = top + n * cell + 6
        body.append(f'<text x="{x:.1f}" y="{y}" font-size="10" text-anchor="end" '
                    f'transform="rotate(-50 {x:.1f} {y})">{html.escape(str(name)[:16])}</text>')
    return _frame(w, h, body, title)
