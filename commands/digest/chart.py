"""The digest's chart as a PNG, drawn for a phone screen: portrait, large type, few colours.

Only this module imports matplotlib (with the Agg backend, no display needed). It uses the
object API, not pyplot, so drawing keeps no global state and can run in a worker thread.
"""

from __future__ import annotations

import io

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from commands.digest.data import ChartData, Trend
from commands.ownership.map import Route

WIDTH_IN, HEIGHT_IN, DPI = 6.0, 7.5, 160
SIZE = (int(WIDTH_IN * DPI), int(HEIGHT_IN * DPI))
INK = "#1d2330"
MUTED = "#6b7280"
GRID = "#e5e7eb"
ORG_COLOURS = ("#1f5aa6", "#d9622b", "#6a4c93", "#2a7f62")
# One hue, three strengths: done is the strongest, planned the faintest.
STAGES = (("done", "#1f7a5c"), ("moving", "#5fb894"), ("planned", "#cfe9dd"))


def render(data: ChartData) -> bytes:
    """The chart as PNG bytes, SIZE pixels; the same data always gives the same picture."""
    fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI, facecolor="white")
    FigureCanvasAgg(fig)
    routes = [r for r in data.routes if r.total]
    trends = [t for t in data.trends if any(s is not None for s in t.shares)]
    # Panels are placed in figure coordinates: (top of the title, bottom of the plot).
    if trends and routes:
        # Each further bar takes room from the compliance panel above it.
        split = min(0.36 + 0.07 * max(0, len(routes) - 1), 0.6)
        _compliance(fig, (0.97, split + 0.1), data.weeks, trends)
        _handoffs(fig, (split, 0.04), routes)
    elif trends:
        _compliance(fig, (0.97, 0.08), data.weeks, trends)
    else:
        _handoffs(fig, (0.97, 0.3), routes)
    out = io.BytesIO()
    # No software version or date in the file: identical data gives identical bytes.
    fig.savefig(out, format="png", metadata={"Software": None})
    return out.getvalue()


def _title(fig: Figure, top: float, title: str, subtitle: str) -> float:
    """Write a panel's title and subtitle from `top` down; return where the panel starts."""
    fig.text(0.06, top, title, fontsize=18, weight="bold", color=INK, va="top")
    fig.text(0.06, top - 0.045, subtitle, fontsize=11.5, color=MUTED, va="top")
    return top - 0.1


def _compliance(
    fig: Figure, box: tuple[float, float], weeks: tuple[str, ...], trends: list[Trend]
) -> None:
    top = _title(
        fig, box[0], "Reviews on time", f"share of SLA clocks met, last {len(weeks)} weeks"
    )
    ax = fig.add_axes((0.15, box[1], 0.62, top - box[1]))
    x = list(range(len(weeks)))
    ends: list[tuple[float, str, str]] = []
    for n, trend in enumerate(trends):
        colour = ORG_COLOURS[n % len(ORG_COLOURS)]
        y = [float("nan") if s is None else 100 * s for s in trend.shares]
        ax.plot(x, y, color=colour, linewidth=3.5, marker="o", markersize=7, solid_capstyle="round")
        last = max(i for i, s in enumerate(trend.shares) if s is not None)
        ends.append((y[last], f"{trend.org} {round(y[last])}%", colour))
    # Direct labels at the right edge instead of a legend, nudged apart when they would touch.
    placed: list[float] = []
    for value, text, colour in sorted(ends):
        at = max([value, *(p + 9 for p in placed)])
        placed.append(at)
        ax.annotate(
            text,
            xy=(len(weeks) - 1, value),
            xytext=(len(weeks) - 0.55, at),
            textcoords="data",
            fontsize=14,
            weight="bold",
            color=colour,
            va="center",
            annotation_clip=False,
        )
    ax.set_ylim(-5, 108)
    ax.set_yticks([0, 50, 100], ["0%", "50%", "100%"])
    ax.set_xlim(-0.3, len(weeks) - 0.7)
    ax.set_xticks(x[::2] if len(x) > 4 else x, [weeks[i] for i in (x[::2] if len(x) > 4 else x)])
    ax.tick_params(labelsize=12, colors=MUTED, length=0)
    ax.grid(axis="y", color=GRID, linewidth=1)
    ax.set_axisbelow(True)
    for side in ("top", "right", "left", "bottom"):
        ax.spines[side].set_visible(False)


def _handoffs(fig: Figure, box: tuple[float, float], routes: list[Route]) -> None:
    done = sum(r.done for r in routes)
    total = sum(r.total for r in routes)
    top = _title(fig, box[0], "Hand-offs", f"{done} of {total} areas handed over")
    ax = fig.add_axes((0.06, box[1] + 0.05, 0.88, top - box[1] - 0.05))
    for row, route in enumerate(routes):
        y = len(routes) - 1 - row
        left = 0
        widths = (route.done, route.in_transition, route.planned)
        for (label, colour), width in zip(STAGES, widths, strict=True):
            if not width:
                continue
            ax.barh(y, width, left=left, height=0.62, color=colour, edgecolor="white", linewidth=2)
            text = f"{width} {label}" if width / route.total >= 0.22 else str(width)
            ax.text(
                left + width / 2,
                y,
                text,
                ha="center",
                va="center",
                fontsize=13,
                weight="bold",
                color="white" if colour != STAGES[2][1] else INK,
            )
            left += width
        label = f"{route.source} → {route.target}"
        label = f"{route.category}: {label}" if route.category else label
        ax.text(0, y + 0.45, label, fontsize=13, color=INK, va="bottom")
    ax.set_xlim(0, max(r.total for r in routes))
    ax.set_ylim(-0.5, len(routes) - 0.1)
    ax.set_axis_off()
    # A key in words, in the segments' own colours: no legend box to decode.
    x = 0.06
    for (_, colour), word in zip(STAGES, ("done", "in transition", "planned"), strict=True):
        fig.text(x, box[1], "■ " + word, fontsize=12, color=INK, va="bottom")
        fig.text(x, box[1], "■", fontsize=12, color=colour, va="bottom")
        x += 0.0135 * (len(word) + 2) + 0.05
