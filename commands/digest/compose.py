"""The weekly digest: the relationship's week in one post, split to fit the platforms' limits.

Composed from the same figures the commands show (/sla report's tallies, /review list's ranking,
/handoff board's routes, the outbox's failures), so the digest never disagrees with them. Posted
once per ISO week: the first part's outbox key is `digest:2026-W47`, and the outbox refuses a
second row with that key, so restarts and several replicas cannot post it twice.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from multiprocessing import get_context, parent_process
from multiprocessing.connection import wait
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from commands.core.messages import (
    Image,
    Line,
    Link,
    Mention,
    Message,
    PersonRef,
    Text,
    When,
    bold,
    code,
    count,
    italic,
    line,
    quiet,
)
from commands.core.notifier import Postbox
from commands.digest.data import ChartData, Trend
from commands.ownership import map as ownership
from commands.ownership import verify
from commands.reviews import compliance
from commands.reviews.queries import IS_OPEN, ranked, summary_line
from commands.reviews.rules import BREACH, WARN, StageName
from commands.weekly.chase import action_line, is_overdue, open_actions
from commands.weekly.posting import item_line
from commands.weekly.series import open_items, series_of, upcoming
from storage import outbox
from storage.models import (
    Area,
    AreaEvent,
    HandoffState,
    OutboxItem,
    Person,
    Review,
    ReviewEvent,
    RoadmapEvent,
)

WEEKS = 8
WEEK = timedelta(days=7)
# Lists longer than this end with "and N more", pointing at the command that shows them all.
MAX_ITEMS = 10


@dataclass(frozen=True)
class Limits:
    """A conservative budget every chat platform accepts in one message."""

    fields: int = 25
    field_chars: int = 1000
    text_chars: int = 3500
    lines: int = 40


LIMITS = Limits()


@dataclass(frozen=True)
class Section:
    """One part of the digest: a heading and its lines."""

    title: str
    lines: tuple[Line, ...]


@dataclass(frozen=True)
class Digest:
    """The digest of one week, before it is cut into messages."""

    week: str
    since: datetime
    now: datetime
    tz: ZoneInfo
    sections: tuple[Section, ...]
    chart: ChartData | None
    image: Image | None = None

    @property
    def title(self) -> str:
        """The heading of the first message: "Weekly digest · 2026-W47"."""
        return f"Weekly digest · {self.week}"

    def messages(self, limits: Limits = LIMITS) -> list[Message]:
        """The digest as messages that each fit `limits`; the chart goes with the first."""
        header = line(
            italic(
                f"{_day(self.since, self.tz)} to {_day(self.now, self.tz)}, times in {self.tz.key}"
            )
        )
        blocks = [("", [header])]
        blocks += [(x.title, [line(bold(x.title)), *x.lines]) for x in self.sections]
        if not self.sections:
            blocks.append(("", [line("A quiet week: nothing to report.")]))
        # Room for the part number and a footer added later (the preview's).
        parts = _pack(blocks, limits, len(self.title) + 120)
        out = []
        for n, lines in enumerate(parts, start=1):
            title = self.title if len(parts) == 1 else f"{self.title} ({n} of {len(parts)})"
            out.append(Message(title=title, lines=tuple(lines)))
        if self.image is not None:
            out[0] = replace(out[0], image=self.image)
        return out


def _day(at: datetime, tz: ZoneInfo) -> str:
    return at.astimezone(tz).strftime("%a %d %b")


def cost(ln: Line) -> int:
    """Characters a line may take once rendered on any platform (mentions and links grow)."""
    total = 1
    for span in ln:
        if isinstance(span, Text):
            total += len(span.text) + 2
        elif isinstance(span, Link):
            total += len(span.label) + len(span.url) + 4
        elif isinstance(span, Mention):
            total += len(span.person.handle) + 25
        elif isinstance(span, When):
            total += 80
    return total


def message_cost(message: Message) -> int:
    """Characters of text a message may take once rendered."""
    return (
        len(message.title)
        + len(message.footer)
        + sum(cost(ln) for ln in message.lines)
        + sum(len(f.name) + cost(f.value) for f in message.fields)
    )


def _pack(
    blocks: Sequence[tuple[str, list[Line]]], limits: Limits, overhead: int
) -> list[list[Line]]:
    """Cut blocks of lines into messages within the budget.

    A block (a section: its heading and lines) that fits in a message is never cut; one that
    does not fit anywhere is cut between lines, and the next part says it continues.
    """
    parts: list[list[Line]] = [[]]
    used = overhead

    def fits(size: int, count: int) -> bool:
        return used + size <= limits.text_chars and len(parts[-1]) + count <= limits.lines

    def new_part() -> None:
        nonlocal used
        parts.append([])
        used = overhead

    for title, lines in blocks:
        size = sum(cost(ln) for ln in lines)
        whole = overhead + size <= limits.text_chars and len(lines) <= limits.lines
        if parts[-1] and whole and not fits(size, len(lines)):
            new_part()
        if fits(size, len(lines)):
            parts[-1].extend(lines)
            used += size
            continue
        for n, ln in enumerate(lines):
            if parts[-1] and not fits(cost(ln), 1):
                new_part()
                if n:
                    heading = line(bold(f"{title} (continued)"))
                    parts[-1].append(heading)
                    used += cost(heading)
            parts[-1].append(ln)
            used += cost(ln)
    return [p for p in parts if p]


def week_of(at: datetime, tz: ZoneInfo) -> str:
    """The ISO week an instant falls in, in a time zone: "2026-W47"."""
    year, week, _ = at.astimezone(tz).isocalendar()
    return f"{year}-W{week:02d}"


def part_key(week: str, part: int = 1, channel: str | None = None) -> str:
    """The outbox key of one part: `digest:2026-W47`, `digest:2026-W47:2`, `...@ops:2`."""
    key = f"digest:{week}" + (f"@{channel}" if channel else "")
    return key if part == 1 else f"{key}:{part}"


# --- the sections --------------------------------------------------------------------------------


def _when(at: datetime, tz: ZoneInfo) -> str:
    return at.astimezone(tz).strftime("%a %H:%M")


def _handle(person: Person | PersonRef | None) -> Text:
    # Plain text, not a mention: a weekly post should not ping everyone it names.
    return Text("@" + person.handle) if person else italic("unassigned")


def _more(shown: int, total: int, command: str) -> tuple[Line, ...]:
    if total <= shown:
        return ()
    return (line(italic(f"… and {total - shown} more: "), code(command)),)


def _percent(share: float | None) -> str:
    return "-" if share is None else f"{round(100 * share)}%"


async def _compliance(session: AsyncSession, now: datetime) -> tuple[Section | None, list[Trend]]:
    weeks: list[dict[str, compliance.Tally]] = []
    for back in range(WEEKS - 1, -1, -1):
        end = now - WEEK * back
        weeks.append(
            await compliance.tally(
                session,
                since=end - WEEK,
                until=end,
                now=now,
                by=lambda rv: rv.reviewing_org.key,
            )
        )
    orgs = sorted({org for week in weeks for org in week})
    trends = [Trend(org, tuple(w[org].share if org in w else None for w in weeks)) for org in orgs]
    # An org with no clock decided in eight weeks has no figure to show yet.
    trends = [t for t in trends if any(s is not None for s in t.shares)]
    lines: list[Line] = []
    for trend in trends:
        this = weeks[-1].get(trend.org)
        if this is None or this.share is None:
            now_text = "no clock finished this week"
        else:
            decided = this.decided["ack"] + this.decided["resolve"]
            met = this.met["ack"] + this.met["resolve"]
            now_text = f"{met} of {decided} clocks met in time, {this.breaches} breached"
        lines.append(
            line(
                bold(trend.org),
                " reviewing: ",
                bold(_percent(this.share if this else None)),
                f" this week ({now_text})",
            )
        )
        history = " · ".join(_percent(s) for s in trend.shares)
        lines.append(line(f"   last {WEEKS} weeks, oldest first: {history}"))
    if not lines:
        return None, []
    return Section("SLA compliance", tuple(lines)), trends


async def _open_reviews(session: AsyncSession, now: datetime) -> Section | None:
    ranking = await ranked(session, [IS_OPEN], now, limit=MAX_ITEMS)
    lines = [
        summary_line(r, _handle(r.reviewer) if r.reviewer else None, now) for r in ranking.rows
    ]
    if not lines:
        return None
    lines.extend(_more(len(ranking.rows), ranking.total, "/review list"))
    return Section(f"Open reviews ({ranking.total})", tuple(lines))


async def _breaches(
    session: AsyncSession, since: datetime, now: datetime, tz: ZoneInfo
) -> Section | None:
    events = (
        await session.execute(
            select(ReviewEvent, Review)
            .join(Review, ReviewEvent.review_id == Review.id)
            .where(ReviewEvent.kind == "sla", ReviewEvent.at >= since, ReviewEvent.at <= now)
            .order_by(ReviewEvent.at, ReviewEvent.id)
        )
    ).all()
    grouped: dict[int, tuple[Review, dict[str, list[ReviewEvent]]]] = {}
    for ev, rv in events:
        if StageName.parse(str(ev.data.get("stage", ""))) != WARN:
            clocks = grouped.setdefault(rv.id, (rv, {}))[1]
            clocks.setdefault(ev.data.get("clock", ""), []).append(ev)
    lines: list[Line] = []
    for rv, clocks in grouped.values():
        parts = [_clock_story(clock, evs, tz) for clock, evs in clocks.items()]
        # The title without its link: the open reviews above, or /review show, have it.
        lines.append(line(bold(f"#{rv.id}"), " ", Text(rv.title), " — ", "; ".join(parts)))
    if not lines:
        return None
    shown = lines[:MAX_ITEMS]
    return Section(
        f"Breaches and escalations this week ({len(lines)})",
        (*shown, *_more(len(shown), len(lines), "/review list breached")),
    )


def _clock_story(clock: str, events: Sequence[ReviewEvent], tz: ZoneInfo) -> str:
    """What happened to one clock this week: "acknowledge breached Tue 18:00, escalated to L3"."""
    stages = [StageName.parse(str(e.data.get("stage", ""))) for e in events]
    story = clock
    if BREACH in stages:
        story += f" breached {_when(events[stages.index(BREACH)].at, tz)}"
    levels = [s.level for s in stages if s and s.level is not None and not s.repeat]
    reminders = sum(1 for s in stages if s and s.repeat)
    if levels:
        top = StageName.escalation(max(levels))
        story += f"{',' if BREACH in stages else ''} escalated to {top}"
    if reminders:
        story += f" (+{count(reminders, 'reminder')})"
    return story


async def _stalled(session: AsyncSession, now: datetime, tz: ZoneInfo) -> Section | None:
    lines = await ownership.stalled_lines(session, now, tz)
    return Section("Stalled hand-offs", tuple(lines)) if lines else None


async def _flagged(session: AsyncSession, now: datetime) -> Section | None:
    lines = await verify.flagged_lines(session, now)
    return Section("Ownership to confirm", tuple(lines)) if lines else None


async def _handoffs(
    session: AsyncSession, since: datetime, now: datetime, tz: ZoneInfo
) -> tuple[Section | None, list[ownership.Route]]:
    areas = await ownership.all_areas(session)
    routes = ownership.routes(areas)
    # The chart's bars follow the areas' categories once there is more than one.
    chart_routes = routes
    if len({a.category or "" for a in areas}) > 1:
        chart_routes = ownership.routes(areas, by_category=True)
    lines: list[Line] = [
        line(bold(f"{r.source} → {r.target}: "), *ownership.route_line(r)) for r in routes
    ]
    moves = (
        await session.execute(
            select(AreaEvent, Area)
            .join(Area, AreaEvent.area_id == Area.id)
            .where(AreaEvent.field == "state", AreaEvent.at >= since, AreaEvent.at <= now)
            .order_by(AreaEvent.at, AreaEvent.id)
        )
    ).all()
    if moves:
        lines.append(line("Moved this week:"))
    for ev, area in moves[:MAX_ITEMS]:
        old, new = (
            ownership.STATE_LABELS[HandoffState(v)].lower() if v else "none"
            for v in (ev.old_value, ev.new_value)
        )
        who = f", {_handle(ev.actor).text}" if ev.actor else ""
        lines.append(
            line("• ", Text(area.name), f": {old} → ", bold(new), f" ({_when(ev.at, tz)}{who})")
        )
    lines.extend(_more(min(len(moves), MAX_ITEMS), len(moves), "/handoff board"))
    if not lines:
        return None, chart_routes
    return Section("Hand-offs", tuple(lines)), chart_routes


async def _delivery_problems(
    session: AsyncSession, since: datetime, tz: ZoneInfo
) -> Section | None:
    failed = [(item, d) for item, d in await outbox.failures(session) if item.created_at >= since]
    lines: list[Line] = []
    for item, d in failed[:MAX_ITEMS]:
        what = Message.from_dict(item.payload).title or item.key
        to = item.payload.get("to", {}).get("handle")
        where = f"#{item.channel}" if item.channel else f"@{to}" if to else "a direct message"
        reason = (d.error or "no reason recorded")[:160]
        lines.append(
            line(
                "• ",
                Text(what),
                f" to {where} on {d.platform} ({_when(item.created_at, tz)}): ",
                Text(reason),
            )
        )
    if not lines:
        return None
    lines.extend(_more(min(len(failed), MAX_ITEMS), len(failed), "liaison outbox failed"))
    return Section(f"Delivery problems ({len(failed)})", tuple(lines))


async def _agenda(session: AsyncSession, now: datetime, tz: ZoneInfo) -> Section | None:
    series = await series_of(session)
    if series is None:
        return None
    meeting = await upcoming(session, series, now)
    items = await open_items(session, meeting)
    if not items:
        return None
    lines = [quiet(item_line(item, n)) for n, item in enumerate(items[:MAX_ITEMS], start=1)]
    lines.extend(_more(MAX_ITEMS, len(items), "/agenda list"))
    when = meeting.starts_at.astimezone(tz).strftime("%a %d %b %H:%M")
    return Section(f"Next sync, {when} ({len(items)} on the agenda)", tuple(lines))


async def _actions(session: AsyncSession, now: datetime) -> Section | None:
    items = await open_actions(session)
    if not items:
        return None
    overdue = [a for a in items if is_overdue(a, now)]
    lines = [quiet(action_line(a, now)) for a in items[:MAX_ITEMS]]
    lines.extend(_more(MAX_ITEMS, len(items), "/action list open"))
    return Section(f"Action items ({len(items)} open, {len(overdue)} overdue)", tuple(lines))


async def _roadmaps(session: AsyncSession, since: datetime, now: datetime) -> Section | None:
    events = (
        await session.scalars(
            select(RoadmapEvent)
            .where(RoadmapEvent.at >= since, RoadmapEvent.at <= now)
            .order_by(RoadmapEvent.at, RoadmapEvent.id)
        )
    ).all()
    lines: list[Line] = []
    for ev in events[:MAX_ITEMS]:
        item = ev.item
        if ev.field == "created":
            what = f"added ({ev.new_value or item.status.value})"
        elif ev.field == "quarter":
            what = f"moved {ev.old_value} → {ev.new_value}"
        else:
            what = f"{ev.field} {ev.old_value or 'none'} → {ev.new_value or 'none'}"
        lines.append(
            line("• ", bold(f"{item.org.key} {item.quarter}"), " ", Text(item.title), f": {what}")
        )
    if not lines:
        return None
    lines.extend(_more(MAX_ITEMS, len(events), "/roadmap list"))
    return Section(f"Roadmap changes since the last digest ({len(events)})", tuple(lines))


async def last_posted(session: AsyncSession, before_week: str) -> datetime | None:
    """When the latest digest before week `before_week` was written, if any."""
    return await session.scalar(
        select(func.max(OutboxItem.created_at)).where(
            OutboxItem.key.like("digest:____-W__"), OutboxItem.key < f"digest:{before_week}"
        )
    )


def draw(data: ChartData) -> bytes:
    """The chart as PNG bytes; runs in the drawing process (`render_chart`), never on the loop."""
    # Imported here so that a process that never draws never loads matplotlib.
    from commands.digest.chart import render

    return render(data)


# The one process that draws charts: matplotlib holds the GIL for most of a drawing (about a
# second of CPU on a slow machine), which in a thread of the bot's own process would take that
# second from every command and platform deadline on the event loop. Spawned, not forked: the
# bot's process has threads (the database driver's) that a fork would copy mid-flight. It is
# started by the first drawing and kept: most processes never draw (the CLI, a bot between
# digests), and it costs about 108 MB and two seconds of CPU to start.
_drawing: ProcessPoolExecutor | None = None


def _drawing_process() -> ProcessPoolExecutor:
    global _drawing
    if _drawing is None:
        _drawing = ProcessPoolExecutor(
            max_workers=1, mp_context=get_context("spawn"), initializer=_end_with_parent
        )
    return _drawing


def _end_with_parent() -> None:
    """In the drawing process: exit when the bot's process ends, however it ends (a worker
    waiting for work would outlive a SIGKILLed parent)."""
    parent = parent_process()
    if parent is None:
        return

    def watch() -> None:
        wait([parent.sentinel])
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


async def render_chart(data: ChartData) -> bytes:
    """The chart as PNG bytes, drawn in the drawing process (started now if it is not yet)."""
    global _drawing
    try:
        return await asyncio.get_running_loop().run_in_executor(_drawing_process(), draw, data)
    except BrokenProcessPool:
        # The drawing process died (killed, out of memory): a new one is started next time,
        # and this chart is drawn in a thread.
        _drawing = None
        return await asyncio.to_thread(draw, data)


async def compose(
    session: AsyncSession, now: datetime, tz: ZoneInfo, *, chart: bool = True
) -> Digest:
    """The digest of the week up to `now`, with times shown in `tz`; empty sections left out."""
    week = week_of(now, tz)
    since = now - WEEK
    compliance_section, trends = await _compliance(session, now)
    handoff_section, routes = await _handoffs(session, since, now, tz)
    last = await last_posted(session, week)
    sections = [
        compliance_section,
        await _open_reviews(session, now),
        await _breaches(session, since, now, tz),
        handoff_section,
        await _stalled(session, now, tz),
        await _flagged(session, now),
        await _agenda(session, now, tz),
        await _actions(session, now),
        await _roadmaps(session, last or since, now),
        await _delivery_problems(session, since, tz),
    ]
    labels = tuple("W" + week_of(now - WEEK * back, tz)[-2:] for back in range(WEEKS - 1, -1, -1))
    data = ChartData(labels, tuple(trends), tuple(routes))
    made = Digest(
        week, since, now, tz, tuple(s for s in sections if s is not None), data if data else None
    )
    if chart and made.chart is not None:
        png = await render_chart(made.chart)
        made = replace(
            made,
            image=Image(
                f"digest-{week}.png",
                png,
                "Chart: SLA compliance per week and hand-off progress",
            ),
        )
    return made


async def post_digest(
    postbox: Postbox,
    now: datetime,
    *,
    channels: Sequence[str],
    tz: ZoneInfo,
    week: str | None = None,
) -> bool:
    """Write the week's digest (as of `now`) to the outbox for `channels`; False if already there.

    `week` is the ISO week it is for (default: the week of `now` in `tz`); a run that catches
    up after downtime passes the week of the occurrence it stands for.
    """
    week = week or week_of(now, tz)
    try:
        async with postbox.transaction(now) as notifier:
            session = notifier.session
            taken = await session.scalar(
                select(OutboxItem.id).where(OutboxItem.key == part_key(week))
            )
            if taken is not None:
                return False
            messages = (await compose(session, now, tz)).messages()
            for n, channel in enumerate(channels):
                for part, message in enumerate(messages, start=1):
                    await notifier.notify(
                        part_key(week, part, channel if n else None), message, to=channel
                    )
    except IntegrityError:
        # Another replica wrote this week's digest first: its commit won the unique key.
        return False
    return True


# --- /digest ------------------------------------------------------------------------------------
