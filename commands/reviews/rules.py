"""SLA rules, pure: a policy's stages (warning, breach, escalation levels, repeats) and clocks
that run, pause and stop on a business calendar. No I/O; storage and scheduling build on this.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Any, ClassVar

from commands.core.calendar import (
    BusinessCalendar,
    always_open,
    working_hours,
)
from commands.core.grammar import WrittenDuration, parse_written_duration

# Escalation stages are "L<n>", and the repeats of the last level "L<n>:r<k>", counted from 1.
_LEVEL = re.compile(r"L([1-9][0-9]*)(?::r([1-9][0-9]*))?")


class StageKind(StrEnum):
    """What a stage is: the warning before the target, the breach, or an escalation level."""

    WARN = "warn"
    BREACH = "breach"
    LEVEL = "level"


@dataclass(frozen=True)
class StageName:
    """Which stage of a clock: its warning, its breach, or an escalation level or a repeat of it.

    Its string form ("warn", "breach", "L2", "L2:r1") is stored in review events and outbox keys,
    so `str` and `parse` are the only places that spell it.
    """

    kind: StageKind
    level: int | None = None
    repeat: int = 0

    def __post_init__(self) -> None:
        # Only escalation levels have a number, and only they repeat: anything else would not
        # survive the round trip through its stored string.
        is_level = self.kind is StageKind.LEVEL
        if is_level != (self.level is not None and self.level >= 1) or not (
            self.repeat == 0 or (is_level and self.repeat >= 1)
        ):
            raise ValueError(f"not a stage: {self.kind}, level {self.level}, repeat {self.repeat}")

    @classmethod
    def escalation(cls, level: int, repeat: int = 0) -> StageName:
        """Escalation level `level` (from 1), or its `repeat`th reminder."""
        return cls(StageKind.LEVEL, level, repeat)

    @classmethod
    def parse(cls, text: str) -> StageName | None:
        """The stage a stored name stands for, or None when it is not one."""
        if text in (StageKind.WARN, StageKind.BREACH):
            return cls(StageKind(text))
        match = _LEVEL.fullmatch(text)
        return cls.escalation(int(match[1]), int(match[2] or 0)) if match else None

    def __str__(self) -> str:
        """The stored form: "warn", "breach", "L2", "L2:r1"."""
        if self.kind is not StageKind.LEVEL:
            return self.kind.value
        return f"L{self.level}" + (f":r{self.repeat}" if self.repeat else "")


WARN = StageName(StageKind.WARN)
BREACH = StageName(StageKind.BREACH)


class NotifyTarget(StrEnum):
    """Whom a stage tells, named by their part in the review (config `notify` lists)."""

    REVIEWER = "reviewer"
    REQUESTER = "requester"
    AREA_BACKUP = "area-backup"
    REVIEWING_ORG_LEADS = "reviewing-org-leads"
    REQUESTING_ORG_LEADS = "requesting-org-leads"


@dataclass(frozen=True)
class ChannelTarget:
    """A configured channel a stage tells, written "channel:<name>" in `notify` lists."""

    name: str

    PREFIX: ClassVar[str] = "channel:"

    def __str__(self) -> str:
        """The form config and stored policies use: "channel:shared"."""
        return self.PREFIX + self.name


Target = NotifyTarget | ChannelTarget
# Channel names follow the config's rule for names: lowercase, starting with a letter or digit.
_CHANNEL_TARGET = re.compile(re.escape(ChannelTarget.PREFIX) + r"([a-z0-9][a-z0-9_.-]*)")


def parse_target(text: str) -> Target | None:
    """The target a `notify` entry names, or None when it names none."""
    try:
        return NotifyTarget(text)
    except ValueError:
        pass
    match = _CHANNEL_TARGET.fullmatch(text)
    return ChannelTarget(match[1]) if match else None


@dataclass(frozen=True)
class Level:
    """One escalation level: who hears, how long after the breach, and how often it repeats."""

    after: timedelta
    notify: tuple[Target, ...]
    repeat_every: timedelta | None = None
    repeat_times: int = 0
    # Also posted at the top level of a notified channel, not only in the card's thread.
    broadcast: bool = False


# The working day a business-day duration means when no calendar says otherwise.
DEFAULT_DAY = timedelta(hours=8)


@lru_cache(maxsize=256)
def _written(text: str) -> WrittenDuration:
    # Policies hold a handful of distinct texts, read for every clock shown: parsed once each.
    return parse_written_duration(text, allow_zero=True)


def _stored(seconds: int, text: str | None, day: timedelta) -> timedelta:
    """A stored duration: its text as written when kept (business days need `day`), else seconds."""
    if text:
        return _written(text).on(day)
    return timedelta(seconds=seconds)


def unit_of(text: str | None) -> str:
    """The unit a stored duration text was written in ("bd", "bh", or "" for plain time)."""
    return _written(text).unit if text else ""


def calendar_problem(written: WrittenDuration, calendar: str, text: str) -> str | None:
    """Why a duration cannot be an SLA duration on this calendar, with what to write instead.

    On a business calendar "2d" would silently mean 48 business hours (six working days), so
    calendar days and weeks are refused there; on a 24x7 calendar business units mean nothing.
    """
    if calendar == "business" and written.calendar_days:
        hours = written.time / timedelta(hours=1)
        days = written.time / timedelta(days=1)
        return (
            f'"{text}" on a business calendar would mean {_count(hours, "business hour")}, not '
            f'{_count(days, "working day")}: write "{_n(days)}bd" for '
            f'{_count(days, "business day")}, or "{_n(hours)}bh" if you meant the hours'
        )
    if calendar == "24x7" and written.unit:
        return (
            f'"{text}" counts business days or hours, but this policy runs 24x7 (every hour '
            'counts): write calendar time such as "2d" or "4h", or set calendar = "business"'
        )
    return None


def _n(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _count(value: float, noun: str) -> str:
    return f"{_n(value)} {noun}" + ("" if value == 1 else "s")


@dataclass(frozen=True)
class Policy:
    """An SLA policy as the engine uses it."""

    name: str
    calendar: str
    acknowledge: timedelta
    resolve: timedelta
    warn_at: float
    levels: tuple[Level, ...] = ()
    # The unit each target was written in ("bd", "bh", ""), to show it back in that unit.
    acknowledge_unit: str = ""
    resolve_unit: str = ""
    # Its pings go at once, even outside the recipient's working hours.
    urgent: bool = False

    @classmethod
    def from_stored(
        cls,
        name: str,
        calendar: str,
        acknowledge_seconds: int,
        resolve_seconds: int,
        warn_at: float,
        escalation: Sequence[dict[str, Any]],
        written: dict[str, str] | None = None,
        urgent: bool = False,
        *,
        day: timedelta = DEFAULT_DAY,
    ) -> Policy:
        """Build a policy from its stored form (seconds, escalation as JSON, and the texts as
        written), counting a business day as `day`: the reviewing org's working day."""
        written = written or {}
        levels = []
        for entry in escalation:
            repeat = entry.get("repeat") or {}
            levels.append(
                Level(
                    after=_stored(entry["after_seconds"], entry.get("after"), day),
                    # An entry that names nobody (it cannot pass config checks) tells nobody.
                    notify=tuple(
                        t for name in entry["notify"] if (t := parse_target(name)) is not None
                    ),
                    repeat_every=(
                        _stored(repeat["every_seconds"], repeat.get("every"), day)
                        if repeat
                        else None
                    ),
                    repeat_times=int(repeat.get("times", 0)),
                    broadcast=bool(entry.get("broadcast", False)),
                )
            )
        return cls(
            name,
            calendar,
            _stored(acknowledge_seconds, written.get("acknowledge"), day),
            _stored(resolve_seconds, written.get("resolve"), day),
            warn_at,
            tuple(levels),
            unit_of(written.get("acknowledge")),
            unit_of(written.get("resolve")),
            urgent,
        )

    def target(self, clock: str) -> timedelta:
        """The target of a clock: "ack" or "resolve"."""
        return self.acknowledge if clock == "ack" else self.resolve

    def unit(self, clock: str) -> str:
        """The unit a clock's target was written in: "bd", "bh", or "" (plain time)."""
        return self.acknowledge_unit if clock == "ack" else self.resolve_unit


@dataclass(frozen=True)
class Stage:
    """A moment in a clock's life, measured in business time since the clock started."""

    step: StageName
    offset: timedelta
    notify: tuple[Target, ...]
    # Posted at the top level of the channels it notifies too (a level with broadcast = true).
    broadcast: bool = False

    @property
    def name(self) -> str:
        """The stage's stored name, as review events and outbox keys hold it: "L2:r1"."""
        return str(self.step)


def level_of(stage: str) -> int | None:
    """The escalation level of a stored stage name ("L2", or its repeat "L2:r1"), or None."""
    step = StageName.parse(stage)
    return step.level if step else None


def stages(policy: Policy, target: timedelta) -> list[Stage]:
    """Every stage of a clock with this target, in the order they fire."""
    out = [
        Stage(WARN, target * policy.warn_at, (NotifyTarget.REVIEWER,)),
        # Without escalation levels the breach itself tells the reviewer.
        Stage(BREACH, target, () if policy.levels else (NotifyTarget.REVIEWER,)),
    ]
    for n, level in enumerate(policy.levels, start=1):
        at = target + level.after
        out.append(Stage(StageName.escalation(n), at, level.notify, level.broadcast))
        if n == len(policy.levels) and level.repeat_every:
            for k in range(1, level.repeat_times + 1):
                repeat = StageName.escalation(n, k)
                out.append(
                    Stage(repeat, at + level.repeat_every * k, level.notify, level.broadcast)
                )
    # Stable sort: stages at the same offset keep their declared order.
    return sorted(out, key=lambda s: s.offset)


def calendar_for(
    kind: str,
    timezone: str = "UTC",
    hours: str = "Mon-Fri 09:00-17:00",
    holidays: str | None = None,
) -> BusinessCalendar:
    """The calendar a policy's clocks run on: 24x7, or the reviewing org's business hours
    (built once per distinct setting: see `working_hours`)."""
    if kind == "24x7":
        return always_open()
    return working_hours(hours, timezone, holidays)


@dataclass(frozen=True)
class ClockState:
    """Where a clock stands: business time banked so far, and since when it has been running."""

    elapsed: timedelta
    running_since: datetime | None

    def elapsed_at(self, calendar: BusinessCalendar, now: datetime) -> timedelta:
        """Business time on the clock at `now`."""
        if self.running_since is None:
            return self.elapsed
        return self.elapsed + calendar.elapsed(self.running_since, now)

    def instant_of(self, calendar: BusinessCalendar, offset: timedelta) -> datetime | None:
        """When the clock reaches `offset` of business time (None while it is paused)."""
        if self.running_since is None:
            return None
        if offset <= self.elapsed:
            return self.running_since
        return calendar.add(self.running_since, offset - self.elapsed)

    def pause(self, calendar: BusinessCalendar, now: datetime) -> ClockState:
        """Stop the clock at `now`, banking the time run."""
        return ClockState(self.elapsed_at(calendar, now), None)

    def resume(self, now: datetime) -> ClockState:
        """Start the clock again at `now`."""
        return ClockState(self.elapsed, now) if self.running_since is None else self
