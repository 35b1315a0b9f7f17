"""What the digest's chart shows, as plain data: drawing it is commands.digest_chart's job."""

from __future__ import annotations

from dataclasses import dataclass

from commands.ownership.map import Route


@dataclass(frozen=True)
class Trend:
    """One reviewing org's share of SLA clocks met in time, per week, oldest first."""

    org: str
    shares: tuple[float | None, ...]


@dataclass(frozen=True)
class ChartData:
    """SLA compliance per week for each reviewing org, and hand-off progress per route."""

    weeks: tuple[str, ...]
    trends: tuple[Trend, ...]
    routes: tuple[Route, ...]

    def __bool__(self) -> bool:
        """Whether there is anything to draw."""
        has_trend = any(s is not None for t in self.trends for s in t.shares)
        return has_trend or any(r.total for r in self.routes)
