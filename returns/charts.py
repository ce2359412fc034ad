"""Charts for the dashboard, drawn on the server as SVG: bars, and reference lines for the
recommended volume and the national figures.

Each chart carries its title, a description in words, and the table of its data, so the
page reads the same without the picture. Charts hold counts and rates only, and link
nowhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field

WIDTH = 640
LEFT = 56
RIGHT = 16
TOP = 16
PLOT_HEIGHT = 220
BOTTOM = 44
ROW = 30  # a horizontal bar's row
LABEL_WIDTH = 230


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    shown: str
    x: float
    y: float
    width: float
    height: float
    #: Where its value is written: past the bar's end (and past its mark, if any).
    text_x: float = 0.0


@dataclass(frozen=True)
class Line:
    """A reference line across (vertical charts) or a mark on each bar (horizontal)."""

    label: str
    x1: float
    y1: float
    x2: float
    y2: float


@dataclass(frozen=True)
class Tick:
    text: str
    x: float
    y: float


@dataclass
class Chart:
    key: str
    title: str
    description: str
    horizontal: bool
    height: float
    bars: list[Bar] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    ticks: list[Tick] = field(default_factory=list)
    #: The data table: its column headings, then one row per bar.
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)


def _scale_max(values: list[float]) -> float:
    top = max([*values, 1.0])
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000):
        if top <= step * 4:
            return float(step * 4)  # four even steps, whole numbers for counts
    return top


def columns(
    key: str,
    title: str,
    description: str,
    points: list[tuple[str, float, str]],
    *,
    reference: tuple[str, float] | None = None,
    unit: str = "",
    table: tuple[list[str], list[list[str]]],
) -> Chart:
    """Vertical bars, one per point (label, value, shown), with an optional reference line."""
    top = _scale_max([v for _l, v, _s in points] + ([reference[1]] if reference else []))
    chart = Chart(key, title, description, False, TOP + PLOT_HEIGHT + BOTTOM)
    chart.columns, chart.rows = table
    plot_width = WIDTH - LEFT - RIGHT
    slot = plot_width / max(len(points), 1)
    for n in range(5):
        value = top * n / 4
        y = TOP + PLOT_HEIGHT - PLOT_HEIGHT * n / 4
        chart.ticks.append(Tick(f"{value:g}{unit}", LEFT - 6, y))
    for n, (label, value, shown) in enumerate(points):
        height = PLOT_HEIGHT * value / top
        chart.bars.append(
            Bar(
                label,
                value,
                shown,
                LEFT + slot * n + slot * 0.15,
                TOP + PLOT_HEIGHT - height,
                slot * 0.7,
                height,
                LEFT + slot * n + slot * 0.5,
            )
        )
    if reference is not None:
        y = TOP + PLOT_HEIGHT - PLOT_HEIGHT * reference[1] / top
        chart.lines.append(Line(reference[0], LEFT, y, WIDTH - RIGHT, y))
    return chart


def rows(
    key: str,
    title: str,
    description: str,
    points: list[tuple[str, float, str]],
    *,
    marks: list[float | None] | None = None,
    mark_label: str = "",
    unit: str = "",
    table: tuple[list[str], list[list[str]]],
) -> Chart:
    """Horizontal bars, one per point, each with an optional mark (a national figure)."""
    values = [v for _l, v, _s in points] + [m for m in (marks or []) if m is not None]
    top = _scale_max(values)
    chart = Chart(key, title, description, True, TOP + ROW * len(points) + BOTTOM)
    chart.columns, chart.rows = table
    plot_width = WIDTH - LABEL_WIDTH - RIGHT - 40
    for n in range(5):
        chart.ticks.append(
            Tick(
                f"{top * n / 4:g}{unit}", LABEL_WIDTH + plot_width * n / 4, TOP + ROW * len(points)
            )
        )
    for n, (label, value, shown) in enumerate(points):
        y = TOP + ROW * n
        width = plot_width * value / top
        end = LABEL_WIDTH + width
        mark = (marks or [None] * len(points))[n]
        if mark is not None:
            x = LABEL_WIDTH + plot_width * mark / top
            chart.lines.append(Line(mark_label, x, y + 1, x, y + ROW - 1))
            end = max(end, x)
        chart.bars.append(Bar(label, value, shown, LABEL_WIDTH, y + 5, width, ROW - 10, end + 8))
    return chart
