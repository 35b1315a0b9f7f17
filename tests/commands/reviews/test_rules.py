"""The pure SLA rules: stages of a policy, and clocks that pause and resume."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from commands.core.calendar import BusinessCalendar, always_open, parse_business_hours
from commands.reviews.rules import ClockState, Level, Policy, level_of, stages

H = timedelta(hours=1)


def _policy(*levels: Level) -> Policy:
    return Policy("p", "24x7", timedelta(minutes=30), 4 * H, 0.5, levels)


def test_stages_are_warning_breach_levels_then_repeats_of_the_last_level() -> None:
    policy = _policy(
        Level(timedelta(0), ("reviewer",)),
        Level(2 * H, ("reviewing-org-leads",), repeat_every=H, repeat_times=2),
    )
    got = [(s.name, s.offset, s.notify) for s in stages(policy, 4 * H)]
    assert got == [
        ("warn", 2 * H, ("reviewer",)),
        ("breach", 4 * H, ()),
        ("L1", 4 * H, ("reviewer",)),
        ("L2", 6 * H, ("reviewing-org-leads",)),
        ("L2:r1", 7 * H, ("reviewing-org-leads",)),
        ("L2:r2", 8 * H, ("reviewing-org-leads",)),
    ]


def test_without_escalation_levels_the_breach_tells_the_reviewer() -> None:
    assert [(s.name, s.notify) for s in stages(_policy(), H)] == [
        ("warn", ("reviewer",)),
        ("breach", ("reviewer",)),
    ]


def test_only_the_last_level_repeats() -> None:
    policy = _policy(
        Level(timedelta(0), ("reviewer",), repeat_every=H, repeat_times=5),
        Level(H, ("requester",)),
    )
    assert [s.name for s in stages(policy, H)] == ["warn", "breach", "L1", "L2"]


def test_a_paused_clock_has_no_due_instant_and_keeps_its_elapsed_time() -> None:
    calendar = always_open()
    start = datetime(2026, 1, 5, 9, tzinfo=UTC)
    running = ClockState(timedelta(0), start)
    paused = running.pause(calendar, start + H)
    assert paused.elapsed == H and paused.instant_of(calendar, 4 * H) is None
    resumed = paused.resume(start + 5 * H)
    assert resumed.instant_of(calendar, 4 * H) == start + 8 * H
    assert resumed.elapsed_at(calendar, start + 6 * H) == 2 * H


def test_a_stage_already_passed_is_due_at_once() -> None:
    start = datetime(2026, 1, 5, 9, tzinfo=UTC)
    state = ClockState(3 * H, start)
    assert state.instant_of(always_open(), 2 * H) == start


def test_business_clocks_count_only_open_hours() -> None:
    calendar = BusinessCalendar(parse_business_hours("Mon-Fri 09:00-17:00"), ZoneInfo("UTC"))
    friday_4pm = datetime(2026, 1, 9, 16, tzinfo=UTC)
    state = ClockState(timedelta(0), friday_4pm)
    assert state.instant_of(calendar, 2 * H) == datetime(2026, 1, 12, 10, tzinfo=UTC)
    assert state.elapsed_at(calendar, datetime(2026, 1, 11, 12, tzinfo=UTC)) == H


def test_the_level_of_a_stage_is_read_as_a_number() -> None:
    assert [level_of(s) for s in ("L2", "L2:r1", "L10", "L9:r3")] == [2, 2, 10, 9]
    assert [level_of(s) for s in ("warn", "breach", "L", "Lx", "L2:x")] == [None] * 5
    assert max(level_of(s) or 0 for s in ("L9", "L10")) == 10
