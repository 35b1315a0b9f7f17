"""The digest's chart: a PNG of the promised size that changes with the data, and only then."""

from __future__ import annotations

import struct

from commands.digest.chart import SIZE, render
from commands.digest.data import ChartData, Trend
from commands.ownership.map import Route

WEEKS = tuple(f"W{n}" for n in range(40, 48))
DATA = ChartData(
    WEEKS,
    (
        Trend("ic", (None, None, 1.0, 0.5, 1.0, 0.75, 1.0, 1.0)),
        Trend("set", (0.5, 0.25, 0.8, 0.6, 0.75, 0.2, 0.5, 0.62)),
    ),
    (Route("set", "ic", 2, 1, 4),),
)


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_the_chart_is_a_portrait_png_of_the_documented_size() -> None:
    width, height = _png_size(render(DATA))
    assert (width, height) == SIZE
    assert height > width, "portrait, for a phone"


def test_the_same_data_draws_the_same_picture_and_other_data_another() -> None:
    first = render(DATA)
    assert render(DATA) == first
    better = ChartData(WEEKS, DATA.trends, (Route("set", "ic", 5, 1, 1),))
    assert render(better) != first
    fewer = ChartData(WEEKS, DATA.trends[:1], DATA.routes)
    assert render(fewer) != first


def test_a_chart_with_only_one_panel_still_renders() -> None:
    assert _png_size(render(ChartData(WEEKS, DATA.trends, ()))) == SIZE
    assert _png_size(render(ChartData(WEEKS, (), DATA.routes))) == SIZE
    assert not ChartData(WEEKS, (Trend("ic", (None,) * 8),), ())
