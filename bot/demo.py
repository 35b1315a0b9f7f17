"""`liaison demo seed`: a realistic month between the two demo orgs, made by the real code paths.

A fake clock walks through the last twenty business days. People type the same commands they
would in chat (through the dispatcher), and the SLA wake-up fires every warning, breach and
escalation at its own instant, exactly as in production. What the month sent is then marked as
history (delivered), so starting the bot afterwards does not replay a month of pings; a few
deliveries are marked failed, as a platform outage would leave them, for the digest to report.

The weekly sync (meetings, agenda, decisions, action items) and the roadmaps are written as rows,
as their own commands would leave them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update

from bot import plaintext
from bot.config import Settings
from bot.runtime import Runtime, open_runtime
from commands.core.clock import Clock, FakeClock, SystemClock
from commands.core.dispatch import Caller
from commands.weekly.chase import next_chase
from storage.models import (
    ActionItem,
    ActionStatus,
    AgendaItem,
    AgendaStatus,
    Area,
    Decision,
    Delivery,
    DeliveryStatus,
    Meeting,
    MeetingSeries,
    MeetingState,
    Org,
    OutboxItem,
    Person,
    Review,
    RoadmapEvent,
    RoadmapItem,
    RoadmapStatus,
    Role,
    SlaPolicy,
)

PEOPLE = ("alice", "bob", "carol", "dave")
# Eight weeks: the digest's SLA trend spans eight; the last four carry the story.
BUSINESS_DAYS = 40
STORY = 20
PR = "https://github.com/SetProtocol/index-coop-smart-contracts/pull/"


class SeedError(Exception):
    """The demo cannot be seeded here; the text says why and what to do."""


@dataclass
class Report:
    """What the seed wrote."""

    reviews: int = 0
    areas: int = 0
    meetings: int = 0
    actions: int = 0
    roadmap_items: int = 0
    notifications: int = 0
    failed: int = 0
    commands: list[str] = field(default_factory=list)


def business_days(today: date, count: int) -> list[date]:
    """The `count` weekdays before `today`, oldest first."""
    days: list[date] = []
    day = today
    while len(days) < count:
        day -= timedelta(days=1)
        if day.weekday() < 5:
            days.append(day)
    return days[::-1]


class Seeder:
    """Runs the month: commands as people type them, with SLA time passing in between."""

    def __init__(self, runtime: Runtime, clock: FakeClock, days: Sequence[date]) -> None:
        self.runtime = runtime
        self.clock = clock
        self.days = days
        self.ids: dict[str, int] = {}
        self.report = Report()
        # Day numbers in the script count from here.
        self.base = 0

    def at(self, day: int, hhmm: str) -> datetime:
        """Business day `day` (0 = the oldest) at HH:MM UTC."""
        hour, minute = (int(p) for p in hhmm.split(":"))
        return datetime.combine(self.days[self.base + day], time(hour, minute), tzinfo=UTC)

    async def until(self, when: datetime) -> None:
        """Let time pass to `when`, firing each SLA stage at its own instant."""
        deadlines = self.runtime.deadlines
        await deadlines.tick()
        while (due := deadlines.armed_for) is not None and due <= when:
            self.clock.set(max(due, self.clock.now()))
            await deadlines.tick()
        self.clock.set(max(when, self.clock.now()))

    async def say(self, day: int, hhmm: str, who: str, text: str, *, name: str = "") -> None:
        """At that moment, `who` types `text`; `name` remembers the review it creates."""
        await self.until(self.at(day, hhmm))
        for label, number in self.ids.items():
            text = text.replace("{" + label + "}", str(number))
        reply = await self.runtime.dispatcher.run_text(text, Caller("console", who, who))
        rendered = plaintext.render(reply.message)
        if not reply.ok:
            raise SeedError(f"demo seed: {who} typed {text!r} and was refused: {rendered}")
        self.report.commands.append(f"{self.clock.now():%Y-%m-%d %H:%M} @{who}: {text}")
        if name:
            found = re.search(r"Review #(\d+)", rendered)
            if found is None:
                raise SeedError(f"demo seed: no review number in the answer to {text!r}")
            self.ids[name] = int(found[1])


# The areas each lead creates: (area, DRI, extra options). The categories are the seeds' own
# grouping of the work: create (new products), grow (reach and insight), maintain (run it).
SET_AREAS = (
    ("Code review", "bob", " backup=@alice category=maintain"),
    ("Smart contract deployment", "bob", " category=create"),
    ("Rebalance parameterization", "bob", " backup=@alice category=maintain"),
    ("Liquidity monitoring", "bob", " category=maintain"),
    ("Keeper infrastructure", "alice", " backup=@bob category=maintain"),
    ("Product launch process", "alice", " category=create"),
    ("Oracle monitoring", "bob", " category=maintain"),
    ("Gas cost reporting", "alice", " category=grow"),
)
IC_AREAS = (
    ("Analytics dashboards", "dave", " category=grow"),
    ("Index methodology", "carol", " category=create"),
)
AREAS = tuple(area for area, _, _ in SET_AREAS + IC_AREAS)
# Who must be configured for the script to run: (handle, org, may they run an org's areas).
CAST = (("alice", "set", True), ("bob", "set", False), ("carol", "ic", True), ("dave", "ic", False))
POLICIES = ("smart-contract", "hotfix")


async def _map(s: Seeder, q: str, q1: str) -> None:
    for area, dri, extra in SET_AREAS:
        await s.say(0, "14:00", "alice", f'/dri set "{area}" @{dri}{extra}')
    for area, dri, extra in IC_AREAS:
        await s.say(0, "14:10", "carol", f'/dri set "{area}" @{dri}{extra}')
    await s.say(0, "14:20", "alice", f'/handoff plan "Liquidity monitoring" near {q}')
    await s.say(0, "14:21", "alice", f'/handoff plan "Rebalance parameterization" near {q}')
    await s.say(0, "14:22", "alice", f'/handoff plan "Product launch process" near {q1}')
    await s.say(0, "14:23", "alice", f'/handoff plan "Smart contract deployment" near {q1}')
    await s.say(0, "14:24", "alice", '/handoff plan "Keeper infrastructure" long')
    await s.say(0, "14:25", "alice", f'/handoff plan "Gas cost reporting" near {q}')
    # Each hand-off is planned only once the receiving org agrees to it.
    for minute, area in enumerate(
        (
            "Liquidity monitoring",
            "Rebalance parameterization",
            "Product launch process",
            "Smart contract deployment",
            "Keeper infrastructure",
            "Gas cost reporting",
        )
    ):
        await s.say(0, f"14:{30 + minute}", "carol", f'/handoff accept "{area}"')


ROUTINE = (
    (
        "DPI rebalance: weekly parameters",
        "Keeper: rebalance bot retry policy",
        "Manager fee accrual",
    ),
    ("MVI rebalance: weekly parameters", "Keeper: gas price oracle", "Set v2 docs: extensions"),
    (
        "BED rebalance: weekly parameters",
        "Keeper: FLI ripcord monitoring",
        "Protocol viewer update",
    ),
    ("DATA rebalance: weekly parameters", "Keeper: stale price alerts", "Trade module gas savings"),
)


async def _routine(s: Seeder) -> None:
    """Four ordinary weeks before the story: steady reviews, a few late."""
    steps: list[tuple[int, str, str, str, str]] = []
    for week, (ic_pr, keeper_pr, set_pr) in enumerate(ROUTINE):
        d = 5 * week
        n = f"w{week}"
        steps += [
            (d, "14:30", "carol", f'/review request {PR}{40 + 3 * week} "{ic_pr}"', n + "a"),
            (d, "15:30", "bob", f"/review ack {{{n}a}}", ""),
            (d + (1 if week % 2 == 0 else 3), "16:00", "bob", f"/review approve {{{n}a}}", ""),
            (d + 1, "15:00", "dave", f'/review request {PR}{41 + 3 * week} "{keeper_pr}"', n + "b"),
            (d + (2 if week == 1 else 1), "16:00", "bob", f"/review ack {{{n}b}}", ""),
            (d + 2, "20:00", "bob", f"/review approve {{{n}b}}", ""),
            (
                d + 2,
                "10:00",
                "alice",
                f'/review request {PR}{42 + 3 * week} "{set_pr}" reviewer=@dave',
                n + "c",
            ),
            (d + 2, "11:00", "dave", f"/review ack {{{n}c}}", ""),
            (d + (5 if week == 2 else 3), "10:00", "dave", f"/review approve {{{n}c}}", ""),
        ]
    for day, hhmm, who, text, name in sorted(steps, key=lambda step: (step[0], step[1])):
        await s.say(day, hhmm, who, text, name=name)


async def _reviews_and_handoffs(s: Seeder) -> None:
    # Week 1.
    await s.say(
        0, "14:30", "carol", f'/review request {PR}101 "ETH2x-FLI rebalance parameters"', name="fli"
    )
    await s.say(0, "15:10", "bob", "/review ack {fli}")
    await s.say(1, "14:00", "alice", '/handoff start "Liquidity monitoring" @dave')
    await s.say(
        1, "14:30", "dave", f'/review request {PR}102 "Streaming fee split extension"', name="fee"
    )
    await s.say(1, "15:00", "bob", "/review start {fli}")
    await s.say(
        2,
        "10:00",
        "alice",
        f'/review request {PR}103 "Keeper alerting runbook" reviewer=@dave',
        name="runbook",
    )
    await s.say(2, "11:00", "dave", "/review ack {runbook}")
    await s.say(2, "16:00", "bob", "/review approve {fli}")
    await s.say(3, "12:00", "dave", "/review approve {runbook}")
    await s.say(3, "15:00", "bob", "/review ack {fee}")
    await s.say(4, "14:00", "alice", '/handoff start "Rebalance parameterization" @carol')
    await s.say(4, "16:00", "bob", "/review approve {fee}")
    # Week 2.
    await s.say(
        5,
        "14:00",
        "carol",
        f'/review request {PR}104 "Exchange adapter: 0x v4 for DPI rebalances"',
        name="zeroex",
    )
    await s.say(5, "15:00", "bob", "/review ack {zeroex}")
    await s.say(
        6,
        "14:00",
        "dave",
        f'/review request {PR}105 "Hotfix: oracle staleness check" policy=hotfix',
        name="oracle",
    )
    await s.say(6, "14:10", "bob", "/review ack {oracle}")
    await s.say(
        6, "16:00", "bob", '/review changes {zeroex} "Missing the slippage check on partial fills"'
    )
    await s.say(6, "16:30", "bob", "/review approve {oracle}")
    await s.say(
        7,
        "09:30",
        "bob",
        f'/review request {PR}106 "MVI liquidity thresholds" reviewer=@dave',
        name="mvi",
    )
    await s.say(8, "10:00", "dave", "/review ack {mvi}")
    await s.say(8, "14:00", "carol", "/review resume {zeroex}")
    await s.say(8, "14:30", "dave", '/handoff own "Liquidity monitoring"')
    await s.say(8, "15:00", "alice", '/handoff done "Liquidity monitoring"')
    await s.say(9, "11:00", "dave", "/review approve {mvi}")
    await s.say(9, "15:00", "bob", "/review approve {zeroex}")
    # Week 3.
    await s.say(
        10, "14:00", "carol", f'/review request {PR}107 "BED index launch contracts"', name="bed"
    )
    await s.say(10, "15:00", "bob", "/review ack {bed}")
    await s.say(
        11, "15:00", "dave", f'/review request {PR}108 "Airdrop claim module"', name="airdrop"
    )
    await s.say(
        12,
        "10:00",
        "alice",
        f'/review request {PR}109 "Set v2 integration registry update" reviewer=@dave',
        name="registry",
    )
    await s.say(12, "10:30", "dave", "/review ack {registry}")
    await s.say(12, "14:00", "dave", "/review cancel {airdrop}")
    await s.say(12, "17:00", "bob", "/review approve {bed}")
    await s.say(13, "10:00", "dave", "/review approve {registry}")
    await s.say(
        13,
        "14:00",
        "carol",
        f'/review request {PR}110 "Uniswap v3 TWAP oracle adapter"',
        name="twap",
    )
    await s.say(14, "15:00", "alice", "/review reassign {twap} @alice")
    await s.say(14, "15:05", "alice", "/review ack {twap}")
    # This week.
    await s.say(
        15,
        "14:00",
        "carol",
        f'/review request {PR}111 "Debt issuance module v2: audit fixes"',
        name="debt",
    )
    await s.say(15, "15:00", "bob", "/review ack {debt}")
    await s.say(15, "16:00", "alice", "/review approve {twap}")
    await s.say(
        16,
        "14:00",
        "dave",
        f'/review request {PR}112 "Leverage token keeper: gas-aware timing"',
        name="keeper",
    )
    await s.say(16, "14:30", "bob", "/review start {debt}")
    await s.say(16, "15:00", "alice", '/handoff start "Product launch process" @dave')
    await s.say(16, "20:00", "bob", '/review changes {debt} "The fee rounding fix needs a test"')
    await s.say(
        17,
        "10:00",
        "bob",
        f'/review request {PR}113 "DPI methodology: inclusion rules" reviewer=@dave',
        name="dpi",
    )
    await s.say(17, "11:00", "dave", "/review ack {dpi}")
    await s.say(
        17, "14:00", "dave", f'/review request {PR}114 "ETH2x-FLI parameter update"', name="params"
    )
    await s.say(17, "14:30", "bob", "/review ack {params}")
    await s.say(17, "15:50", "carol", '/handoff own "Rebalance parameterization"')
    await s.say(17, "16:00", "alice", '/handoff done "Rebalance parameterization"')
    await s.say(17, "16:05", "carol", '/dri set "Rebalance parameterization" @carol backup=@dave')
    await s.say(
        18, "10:00", "dave", '/review changes {dpi} "Add the liquidity section from the forum post"'
    )
    await s.say(
        18,
        "14:00",
        "carol",
        f'/review request {PR}115 "Hotfix: FLI rebalance circuit breaker" policy=hotfix',
        name="breaker",
    )
    await s.say(18, "14:05", "bob", "/review ack {breaker}")
    await s.say(18, "15:30", "bob", "/review approve {breaker}")
    await s.say(18, "16:00", "alice", '/handoff plan "Oracle monitoring" near')
    await s.say(
        19,
        "14:00",
        "carol",
        f'/review request {PR}116 "Streaming fee module: fee recipient update"',
        name="recipient",
    )
    await s.say(19, "15:00", "bob", "/review ack {recipient}")
    await s.say(
        19,
        "19:00",
        "bob",
        f'/review request {PR}117 "Keeper alerts: Discord webhook" reviewer=@dave',
        name="alerts",
    )
    await s.say(19, "21:00", "carol", "/review resume {debt}")


def quarters(day: date) -> tuple[str, str]:
    """The quarter `day` is in and the one after, as 2026Q4 and 2027Q1."""
    number = (day.month - 1) // 3 + 1
    following = (day.year, number + 1) if number < 4 else (day.year + 1, 1)
    return f"{day.year}Q{number}", f"{following[0]}Q{following[1]}"


async def _person(runtime: Runtime, handle: str) -> Person:
    async with runtime.sessions() as session:
        person = await session.scalar(select(Person).where(Person.handle == handle))
        assert person is not None, "checked before seeding"
        return person


def _meeting_dates(series: MeetingSeries, now: datetime) -> list[date]:
    """The next meeting on the series' weekday after now, and the four before it."""
    local = now.astimezone(ZoneInfo(series.timezone))
    ahead = (series.weekday - local.weekday()) % 7 or 7
    return [local.date() + timedelta(days=ahead - 7 * back) for back in range(4, -1, -1)]


async def _problems(runtime: Runtime, now: datetime, *, force: bool) -> list[str]:
    """Everything that would stop the script part-way, found before anything is written.

    The script is ~110 commands, each its own transaction, so it cannot be one transaction:
    instead every precondition of those commands is checked first.
    """
    problems: list[str] = []
    async with runtime.sessions() as session:
        people = {
            p.handle: p
            for p in (await session.scalars(select(Person).where(Person.handle.in_(PEOPLE))))
        }
        for handle, org, runs in CAST:
            person = people.get(handle)
            if person is None:
                problems.append(f"@{handle} is missing (the demo needs {_cast()})")
            elif person.org is None or person.org.key != org:
                problems.append(f"@{handle} must be in org {org} (the demo needs {_cast()})")
            elif runs and person.role.rank < Role.LEAD.rank:
                problems.append(f"@{handle} must be a lead (the demo needs {_cast()})")
        policies = set(
            (
                await session.scalars(select(SlaPolicy.name).where(SlaPolicy.retired.is_(False)))
            ).all()
        )
        if missing := [p for p in POLICIES if p not in policies]:
            problems.append(
                "the demo's SLA policies are missing: "
                + ", ".join(missing)
                + " (copy [[policies]] from examples/demo.toml)"
            )
        used = (await session.scalar(select(func.count()).select_from(Review)) or 0) + (
            await session.scalar(select(func.count()).select_from(Area)) or 0
        )
        if used and not force:
            problems.append(
                "this database already has reviews or areas: seeding would mix the demo into "
                "them. Use an empty database, or add --force to seed anyway."
            )
        elif force:
            # --force mixes the demo into other data, but cannot replay it over itself.
            taken = (
                await session.scalars(
                    select(Area.name).where(Area.name.in_(AREAS)).order_by(Area.name)
                )
            ).all()
            if taken:
                problems.append(
                    "even with --force the demo cannot be seeded over its own areas, which this "
                    f"database already has: {', '.join(taken)}. Use an empty database."
                )
        # A meeting is made by /agenda add alone, so this holds without reviews or areas too.
        series = await session.scalar(select(MeetingSeries))
        if series is not None:
            held = (
                await session.scalars(
                    select(Meeting.date)
                    .where(
                        Meeting.series_id == series.id,
                        Meeting.date.in_(_meeting_dates(series, now)),
                    )
                    .order_by(Meeting.date)
                )
            ).all()
            if held:
                problems.append(
                    "the demo cannot write its weekly syncs: this database already has meetings "
                    f"on {', '.join(f'{d:%a %Y-%m-%d}' for d in held)}. Use an empty database."
                )
    return problems


def _cast() -> str:
    return ", ".join(f"@{h} ({org}{', lead' if runs else ''})" for h, org, runs in CAST)


async def _sync(s: Seeder, now: datetime) -> None:
    """Four weekly syncs behind, one ahead: agenda, decisions, actions, and both roadmaps."""
    people = {h: await _person(s.runtime, h) for h in PEOPLE}
    who = {h: p.id for h, p in people.items()}
    org_of = {"set": people["alice"].org_id, "ic": people["carol"].org_id}
    london = ZoneInfo("Europe/London")
    q, q1 = quarters(now.date())
    async with s.runtime.sessions.begin() as session:
        series = await session.scalar(select(MeetingSeries))
        if series is None:
            series = MeetingSeries(
                weekday=3,
                time="16:00",
                timezone="Europe/London",
                channel=s.runtime.settings.announce_channel,
                updated_at=s.at(0, "09:00"),
            )
            session.add(series)
            await session.flush()
        zone = ZoneInfo(series.timezone)
        hour, minute = (int(p) for p in series.time.split(":"))
        dates = _meeting_dates(series, now)
        meetings = []
        for day in dates:
            starts = datetime.combine(day, time(hour, minute), tzinfo=zone).astimezone(UTC)
            if await session.scalar(
                select(Meeting.id).where(Meeting.series_id == series.id, Meeting.date == day)
            ):
                continue
            past = starts < now
            meeting = Meeting(
                series_id=series.id,
                date=day,
                starts_at=starts,
                state=MeetingState.ENDED if past else MeetingState.SCHEDULED,
                started_at=starts if past else None,
                started_by_id=who["carol"] if past else None,
                ended_at=starts + timedelta(minutes=55) if past else None,
                ended_by_id=who["carol"] if past else None,
            )
            session.add(meeting)
            meetings.append(meeting)
        await session.flush()
        s.report.meetings = len(meetings)
        if len(meetings) < 5:
            return
        topics = [
            ("SLA for smart contract reviews: first month in numbers", "alice", 15),
            ("Rebalance parameterization: what EWG needs from Set", "carol", 20),
            ("Keeper infrastructure: long-term hand-off options", "bob", 10),
            ("Roadmap sharing: format for the quarterly review", "carol", 10),
        ]
        for n, meeting in enumerate(meetings[:-1]):
            topic, owner, minutes = topics[n]
            session.add(
                AgendaItem(
                    meeting_id=meeting.id,
                    topic=topic,
                    owner_id=who[owner],
                    minutes=minutes,
                    position=1,
                    status=AgendaStatus.DISCUSSED,
                    added_by_id=who[owner],
                    created_at=meeting.starts_at - timedelta(days=3),
                    closed_at=meeting.starts_at + timedelta(minutes=20),
                )
            )
        nxt = meetings[-1]
        for position, (topic, owner, minutes, carried) in enumerate(
            (
                ("Liquidity monitoring: first weeks under ic", "dave", 10, 0),
                ("Product launch process: hand-off checklist", "alice", 20, 0),
                ("Gas cost reporting: who owns the dashboard", "carol", 10, 2),
                ("Oracle monitoring: near-term hand-off plan", "bob", 15, 1),
            ),
            start=1,
        ):
            session.add(
                AgendaItem(
                    meeting_id=nxt.id,
                    topic=topic,
                    owner_id=who[owner],
                    minutes=minutes,
                    position=position,
                    status=AgendaStatus.OPEN,
                    carried=carried,
                    added_by_id=who[owner],
                    created_at=now - timedelta(days=2 + carried * 7),
                )
            )
        decisions = [
            (
                0,
                "Smart contract reviews follow the smart-contract policy: 4h to acknowledge, "
                "16 business hours to resolve",
                "alice",
            ),
            (
                1,
                "Liquidity monitoring moves to ic this quarter; Set stays on call for a month",
                "carol",
            ),
            (2, "Hotfixes use the 24x7 hotfix policy and page both orgs' leads", "alice"),
            (
                3,
                "Roadmaps are shared in Liaison and reviewed at the first sync of each month",
                "carol",
            ),
        ]
        for n, text, author in decisions:
            session.add(
                Decision(
                    meeting_id=meetings[n].id,
                    text=text,
                    author_id=who[author],
                    created_at=meetings[n].starts_at + timedelta(minutes=30),
                )
            )
        today = now.astimezone(london).date()
        for n, text, owner, due, done in (
            (0, "Share the rebalance parameter spreadsheet with EWG", "bob", -20, True),
            (1, "Write the liquidity monitoring runbook", "dave", -9, False),
            (1, "Add ic keepers to the alerting rota", "alice", -6, True),
            (2, "Draft the product launch hand-off checklist", "alice", -2, False),
            (3, "Publish ic's Q-next roadmap in Liaison", "carol", 5, False),
            (3, "Review the gas cost dashboard queries", "dave", 9, False),
        ):
            meeting = meetings[n]
            owner_org = await session.scalar(
                select(Org).join(Person, Person.org_id == Org.id).where(Person.id == who[owner])
            )
            session.add(
                ActionItem(
                    meeting_id=meeting.id,
                    text=text,
                    owner_id=who[owner],
                    due=today + timedelta(days=due),
                    status=ActionStatus.DONE if done else ActionStatus.OPEN,
                    created_by_id=who["carol"],
                    created_at=meeting.starts_at + timedelta(minutes=40),
                    done_at=meeting.starts_at + timedelta(days=4) if done else None,
                    done_by_id=who[owner] if done else None,
                    # Open items are chased as if Liaison had been running all along.
                    next_chase_at=(
                        None if done else next_chase(owner_org, today + timedelta(days=due), now)
                    ),
                )
            )
        s.report.actions = 6
        roadmap: list[tuple[str, str, str, str, list[tuple[int, str, str | None, str]]]] = [
            (
                "set",
                q,
                "Set v2: perpetual leverage module",
                "in-progress",
                [(3, "status", "planned", "in-progress")],
            ),
            (
                "set",
                q,
                "Keeper network: gas-aware rebalancing",
                "shipped",
                [(6, "status", "planned", "in-progress"), (17, "status", "in-progress", "shipped")],
            ),
            (
                "set",
                q1,
                "Cross-chain Set deployments (Polygon)",
                "planned",
                [(16, "quarter", q, q1)],
            ),
            ("set", q1, "Fee extension v3", "dropped", [(18, "status", "planned", "dropped")]),
            (
                "ic",
                q,
                "BED index launch",
                "in-progress",
                [(10, "status", "planned", "in-progress")],
            ),
            ("ic", q, "ETH2x-FLI on Arbitrum", "planned", []),
            ("ic", q1, "DATA index relaunch", "planned", [(19, "created", None, "planned")]),
            (
                "ic",
                q1,
                "Liquidity monitoring dashboards",
                "in-progress",
                [(17, "status", "planned", "in-progress")],
            ),
        ]
        lead = {"set": "alice", "ic": "carol"}
        for org, quarter, title, status, events in roadmap:
            created = next((d for d, f, _, _ in events if f == "created"), 0)
            first = events[0][2] if events and events[0][1] == "status" else status
            item = RoadmapItem(
                org_id=org_of[org],
                quarter=quarter,
                title=title,
                status=RoadmapStatus(status),
                created_by_id=who[lead[org]],
                created_at=s.at(created, "15:00"),
                updated_at=s.at(max([created, *(d for d, *_ in events)]), "15:30"),
            )
            session.add(item)
            await session.flush()
            history: list[tuple[int, str, str | None, str | None]] = [
                (created, "created", None, first)
            ]
            history += [e for e in events if e[1] != "created"]
            for when, name, old, new in history:
                session.add(
                    RoadmapEvent(
                        item_id=item.id,
                        at=s.at(when, "15:30" if name != "created" else "15:00"),
                        actor_id=who[lead[org]],
                        field=name,
                        old_value=old,
                        new_value=new,
                    )
                )
        s.report.roadmap_items = len(roadmap)


async def _history_sent(runtime: Runtime, now: datetime, report: Report) -> None:
    """Mark the month's notifications as sent long ago, bar two a platform outage lost."""
    async with runtime.sessions.begin() as session:
        report.notifications = (
            await session.scalar(select(func.count()).select_from(OutboxItem)) or 0
        )
        # The two most recent escalation messages this week are the ones a platform refused.
        lost = (
            await session.scalars(
                select(Delivery.id)
                .join(OutboxItem, Delivery.outbox_id == OutboxItem.id)
                .where(
                    Delivery.status == DeliveryStatus.PENDING,
                    OutboxItem.key.like("review:%:L%"),
                    OutboxItem.created_at >= now - timedelta(days=6),
                )
                .order_by(OutboxItem.id.desc())
                .limit(2)
            )
        ).all()
        for delivery_id in lost:
            item = await session.scalar(
                select(OutboxItem).join(Delivery).where(Delivery.id == delivery_id)
            )
            reason = (
                "channel_not_found: the bot is no longer in the channel"
                if item is not None and item.channel
                else "403 Forbidden (50007): cannot send messages to this user"
            )
            await session.execute(
                update(Delivery)
                .where(Delivery.id == delivery_id)
                .values(status=DeliveryStatus.FAILED, attempts=5, error=reason)
            )
        report.failed = len(lost)
        await session.execute(
            update(Delivery)
            .where(Delivery.status == DeliveryStatus.PENDING)
            .values(status=DeliveryStatus.DELIVERED, attempts=1, ref="demo-seed", delivered_at=now)
        )


async def seed(
    settings: Settings, *, platforms: Sequence[str], force: bool, clock: Clock | None = None
) -> Report:
    """Fill the database with a month of the two demo orgs working together, ending now."""
    now = (clock or SystemClock()).now()
    days = business_days(now.date(), BUSINESS_DAYS)
    fake = FakeClock(datetime.combine(days[0], time(8, 0), tzinfo=UTC))
    runtime = await open_runtime(settings, platforms=platforms, clock=fake)
    try:
        if problems := await _problems(runtime, now, force=force):
            raise SeedError("\n".join([*problems, "nothing was written"]))
        seeder = Seeder(runtime, fake, days)
        q, q1 = quarters(now.date())
        await _map(seeder, q, q1)
        await _routine(seeder)
        seeder.base = BUSINESS_DAYS - STORY
        await _reviews_and_handoffs(seeder)
        await seeder.until(now)
        await _sync(seeder, now)
        await _history_sent(runtime, now, seeder.report)
        async with runtime.sessions() as session:
            seeder.report.reviews = (
                await session.scalar(select(func.count()).select_from(Review)) or 0
            )
            seeder.report.areas = await session.scalar(select(func.count()).select_from(Area)) or 0
        return seeder.report
    finally:
        await runtime.close()
