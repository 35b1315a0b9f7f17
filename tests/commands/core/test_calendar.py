"""Business-hours calendar: parsing, DST, holidays, and a brute-force oracle for the arithmetic."""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from commands.core.calendar import (
    BusinessCalendar,
    WeeklyHours,
    always_open,
    country_holidays,
    parse_business_hours,
)

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
SYDNEY = ZoneInfo("Australia/Sydney")
KOLKATA = ZoneInfo("Asia/Kolkata")
OFFICE = parse_business_hours("Mon-Fri 09:00-17:00")
CLOSED = ((),) * 7
ALL_DAY = ((0, 1440),)


def local(
    tz: ZoneInfo,
    year: int,
    month: int,
    day: int,
    hour: int = 0,
    minute: int = 0,
    second: int = 0,
    microsecond: int = 0,
    *,
    fold: int = 0,
) -> datetime:
    """A wall-clock time in `tz` as a UTC instant, so expectations read the way people say them.

    Converting matters for ambiguous times: Python never finds an instant in a fall-back fold
    equal to one in another zone, even when both denote the same moment.
    """
    wall = datetime(year, month, day, hour, minute, second, microsecond, tzinfo=tz, fold=fold)
    return wall.astimezone(UTC)


def hours(n: float) -> timedelta:
    return timedelta(hours=n)


# --- parsing ---------------------------------------------------------------------------------

OFFICE_DAY = ((540, 1020),)


@pytest.mark.parametrize(
    ("text", "windows"),
    [
        ("Mon-Fri 09:00-17:00", (OFFICE_DAY,) * 5 + ((), ())),
        (
            "Mon-Thu 09:00-17:00, Fri 09:00-13:00",
            (OFFICE_DAY,) * 4 + (((540, 780),), (), ()),
        ),
        ("Mon-Fri 09:00-12:00 13:00-17:00", (((540, 720), (780, 1020)),) * 5 + ((), ())),
        ("Sun-Thu 08:00-24:00", (((480, 1440),),) * 4 + ((), (), ((480, 1440),))),
        ("Fri-Mon 10:00-12:00", (((600, 720),),) + ((),) * 3 + (((600, 720),),) * 3),
        ("Wed 07:30-08:45", ((), (), ((450, 525),), (), (), (), ())),
        ("24x7", (ALL_DAY,) * 7),
    ],
)
def test_documented_examples_parse_to_weekly_windows(
    text: str, windows: tuple[tuple[tuple[int, int], ...], ...]
) -> None:
    assert parse_business_hours(text).windows == windows


def test_parsing_ignores_case_extra_whitespace_and_accepts_full_day_names() -> None:
    assert parse_business_hours("  mon - FRI   09:00 - 17:00 ") == OFFICE
    assert parse_business_hours("Monday-Friday 9:00-17:00") == OFFICE
    assert parse_business_hours("24X7") == parse_business_hours("24/7")


def test_midnight_end_may_be_written_as_24_00_or_00_00() -> None:
    assert parse_business_hours("Sat 18:00-24:00") == parse_business_hours("Sat 18:00-00:00")
    assert parse_business_hours("Mon-Sun 00:00-00:00").always_open


def test_touching_ranges_are_joined_into_one_window() -> None:
    joined = parse_business_hours("Mon 09:00-12:00 12:00-17:00, Tue 09:00-17:00")
    assert joined.windows[0] == joined.windows[1] == OFFICE_DAY


@pytest.mark.parametrize(
    "text",
    [
        "Mon-Fri 09:00-17:00",
        "Mon-Thu 09:00-17:00, Fri 09:00-13:00",
        "Mon-Fri 09:00-12:00 13:00-17:00",
        "Sun-Thu 08:00-24:00",
        "Fri-Mon 10:00-12:00, Wed 00:00-24:00",
        "24x7",
    ],
)
def test_describe_reads_back_as_the_same_hours(text: str) -> None:
    parsed = parse_business_hours(text)
    assert parse_business_hours(parsed.describe()) == parsed


def test_describe_uses_the_compact_human_form() -> None:
    assert OFFICE.describe() == "Mon-Fri 09:00-17:00"
    assert parse_business_hours("Sun-Thu 08:00-00:00").describe() == "Sun-Thu 08:00-24:00"
    assert parse_business_hours("Mon-Sun 00:00-24:00").describe() == "24x7"
    assert WeeklyHours(CLOSED).describe() == "closed"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "Mon-Fry 09:00-17:00",
            "'Mon-Fry 09:00-17:00': unknown day 'Fry' "
            "(expected Mon, Tue, Wed, Thu, Fri, Sat or Sun)",
        ),
        (
            "Mon 9-17",
            "'Mon 9-17': bad time range '9-17' (expected HH:MM-HH:MM, e.g. 09:00-17:00)",
        ),
        (
            "Mon 09:00-25:00",
            "'Mon 09:00-25:00': bad time '25:00' (expected HH:MM from 00:00 to 24:00)",
        ),
        (
            "Mon 09:75-10:00",
            "'Mon 09:75-10:00': bad time '09:75' (expected HH:MM from 00:00 to 24:00)",
        ),
        (
            "Mon 09:00-09:00",
            "'Mon 09:00-09:00': range '09:00-09:00' is empty (the start must be before the end)",
        ),
        (
            "Mon 24:00-24:00",
            "'Mon 24:00-24:00': range '24:00-24:00' starts at 24:00 (a range must start by 23:59)",
        ),
        (
            "Fri 22:00-06:00",
            "'Fri 22:00-06:00': range '22:00-06:00' crosses midnight, which is not supported "
            "(split it into '22:00-24:00' on one day and '00:00-06:00' on the next)",
        ),
        ("", "Business hours are empty (expected e.g. 'Mon-Fri 09:00-17:00' or '24x7')"),
        ("   ", "Business hours are empty (expected e.g. 'Mon-Fri 09:00-17:00' or '24x7')"),
        (
            "Mon-Fri",
            "'Mon-Fri': the hours are missing after 'Mon-Fri' "
            "(expected e.g. 'Mon-Fri 09:00-17:00')",
        ),
        (
            "09:00-17:00",
            "'09:00-17:00': the days are missing before '09:00-17:00' "
            "(expected e.g. 'Mon-Fri 09:00-17:00')",
        ),
        (
            "Mon-Fri 09:00-17:00,",
            "'Mon-Fri 09:00-17:00,': there is an empty clause between commas "
            "(expected clauses like 'Mon-Fri 09:00-17:00' separated by commas)",
        ),
        (
            "Mon-Wed-Fri 09:00-17:00",
            "'Mon-Wed-Fri 09:00-17:00': bad days 'Mon-Wed-Fri' "
            "(expected one day like 'Mon' or a span like 'Mon-Fri')",
        ),
        (
            "Mon-Fri 09:00-17:00, Fri 09:00-13:00",
            "'Fri 09:00-13:00': Fri 09:00-13:00 overlaps 09:00-17:00 from "
            "'Mon-Fri 09:00-17:00' (give each day's hours only once)",
        ),
        (
            "Mon 09:00-12:00 11:00-13:00",
            "'Mon 09:00-12:00 11:00-13:00': Mon 11:00-13:00 overlaps 09:00-12:00 "
            "(give each day's hours only once)",
        ),
    ],
)
def test_bad_hours_are_rejected_with_one_clear_sentence(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        parse_business_hours(text)


@pytest.mark.parametrize(
    "windows",
    [
        CLOSED[:6],
        (((540, 720), (720, 1020)), *CLOSED[1:]),
        (((720, 1020), (540, 600)), *CLOSED[1:]),
        (((0, 1441),), *CLOSED[1:]),
        (((600, 600),), *CLOSED[1:]),
    ],
)
def test_weekly_hours_rejects_windows_that_are_not_in_canonical_form(
    windows: tuple[tuple[tuple[int, int], ...], ...],
) -> None:
    with pytest.raises(ValueError):
        WeeklyHours(windows)


# --- business time ---------------------------------------------------------------------------


def test_weekend_is_skipped_when_adding_business_hours() -> None:
    calendar = BusinessCalendar(OFFICE, LONDON)
    friday_afternoon = local(LONDON, 2026, 1, 9, 16)
    monday_ten = local(LONDON, 2026, 1, 12, 10)
    assert calendar.add(friday_afternoon, hours(2)) == monday_ten
    assert calendar.elapsed(friday_afternoon, monday_ten) == hours(2)


def test_whole_weeks_of_business_time_end_at_friday_close_not_monday_open() -> None:
    calendar = BusinessCalendar(OFFICE, LONDON)
    sunday = local(LONDON, 2026, 1, 11, 12)
    assert calendar.add(sunday, hours(40)) == local(LONDON, 2026, 1, 16, 17)
    assert calendar.add(sunday, hours(400)) == local(LONDON, 2026, 3, 20, 17)


def test_results_are_utc_and_adding_nothing_returns_the_start() -> None:
    calendar = BusinessCalendar(OFFICE, NEW_YORK)
    saturday = local(NEW_YORK, 2026, 1, 10, 12)
    assert calendar.add(saturday, timedelta(0)) == saturday
    assert calendar.add(saturday, timedelta(0)).tzinfo == UTC
    assert calendar.add(saturday, hours(1)).tzinfo == UTC
    assert calendar.next_open(saturday).tzinfo == UTC


def test_elapsed_is_zero_when_the_end_is_not_after_the_start() -> None:
    calendar = BusinessCalendar(OFFICE, LONDON)
    monday_ten = local(LONDON, 2026, 1, 12, 10)
    assert calendar.elapsed(monday_ten, monday_ten) == timedelta(0)
    assert calendar.elapsed(monday_ten, monday_ten - hours(1)) == timedelta(0)


def test_elapsed_is_exact_to_the_microsecond() -> None:
    calendar = BusinessCalendar(OFFICE, LONDON)
    start = local(LONDON, 2026, 1, 12, 8, 59, 59, 999_999)
    end = local(LONDON, 2026, 1, 12, 9, 0, 0, 7)
    assert calendar.elapsed(start, end) == timedelta(microseconds=7)


def test_next_open_is_the_instant_itself_when_open_else_the_next_opening() -> None:
    calendar = BusinessCalendar(OFFICE, LONDON)
    monday_ten = local(LONDON, 2026, 1, 12, 10)
    assert calendar.next_open(monday_ten) == monday_ten
    assert calendar.next_open(local(LONDON, 2026, 1, 9, 17)) == local(LONDON, 2026, 1, 12, 9)
    assert calendar.is_open(monday_ten)
    assert not calendar.is_open(local(LONDON, 2026, 1, 12, 17))


def test_an_explicit_holiday_is_skipped() -> None:
    christmas = date(2026, 12, 25)
    calendar = BusinessCalendar(OFFICE, LONDON, {christmas}.__contains__)
    christmas_eve = local(LONDON, 2026, 12, 24, 16)
    assert calendar.add(christmas_eve, hours(2)) == local(LONDON, 2026, 12, 28, 10)
    assert not calendar.is_open(local(LONDON, 2026, 12, 25, 10))
    assert calendar.next_open(local(LONDON, 2026, 12, 24, 17)) == local(LONDON, 2026, 12, 28, 9)


def test_us_thanksgiving_is_skipped_with_country_holidays() -> None:
    calendar = BusinessCalendar(OFFICE, NEW_YORK, country_holidays("US"))
    day_before = local(NEW_YORK, 2026, 11, 25, 16)
    assert calendar.add(day_before, hours(2)) == local(NEW_YORK, 2026, 11, 27, 10)
    assert calendar.elapsed(day_before, local(NEW_YORK, 2026, 11, 28)) == hours(9)


def test_country_holidays_accept_lowercase_codes_and_subdivisions() -> None:
    california = country_holidays("us", subdiv="ca")
    assert california(date(2026, 3, 31))  # Cesar Chavez Day is a California holiday only.
    assert not country_holidays("US")(date(2026, 3, 31))
    assert not california(date(2026, 3, 30))


def test_unknown_country_code_is_rejected_with_examples() -> None:
    with pytest.raises(ValueError, match=r"^Unknown country code 'XX' .*such as US, GB"):
        country_holidays("XX")


def test_unknown_subdivision_is_rejected_with_examples() -> None:
    with pytest.raises(ValueError, match=r"^Unknown subdivision 'ZZ' of US .*e\.g\. AK"):
        country_holidays("US", subdiv="ZZ")


def test_hours_ending_at_midnight_are_open_until_but_not_at_midnight() -> None:
    evenings = parse_business_hours("Mon-Fri 18:00-24:00")
    calendar = BusinessCalendar(evenings, NEW_YORK)
    last_instant = local(NEW_YORK, 2026, 1, 12, 23, 59, 59, 999_999)
    assert calendar.is_open(last_instant)
    assert not calendar.is_open(last_instant + timedelta(microseconds=1))
    assert calendar.add(local(NEW_YORK, 2026, 1, 12, 23), hours(2)) == local(
        NEW_YORK, 2026, 1, 13, 19
    )
    assert calendar.elapsed(local(NEW_YORK, 2026, 1, 12), local(NEW_YORK, 2026, 1, 13)) == hours(6)


def test_new_york_spring_forward_sunday_has_23_business_hours() -> None:
    sundays = BusinessCalendar(parse_business_hours("Sun 00:00-24:00"), NEW_YORK)
    start, end = local(NEW_YORK, 2026, 3, 8), local(NEW_YORK, 2026, 3, 9)
    assert sundays.elapsed(start, end) == hours(23)
    # 02:00-03:00 does not exist that night, so a window there is worth nothing.
    skipped = BusinessCalendar(parse_business_hours("Sun 02:00-03:00"), NEW_YORK)
    assert skipped.elapsed(start, end) == timedelta(0)
    assert sundays.add(start, hours(2.5)) == local(NEW_YORK, 2026, 3, 8, 3, 30)


def test_new_york_fall_back_counts_the_repeated_hour_twice() -> None:
    start, end = local(NEW_YORK, 2026, 11, 1), local(NEW_YORK, 2026, 11, 2)
    sundays = BusinessCalendar(parse_business_hours("Sun 00:00-24:00"), NEW_YORK)
    assert sundays.elapsed(start, end) == hours(25)
    repeated = BusinessCalendar(parse_business_hours("Sun 01:00-02:00"), NEW_YORK)
    assert repeated.elapsed(start, end) == hours(2)
    first_pass_end = local(NEW_YORK, 2026, 11, 1, 1, 30, fold=0)
    assert repeated.add(start, hours(1.5)) == local(NEW_YORK, 2026, 11, 1, 1, 30, fold=1)
    assert repeated.add(start, hours(0.5)) == first_pass_end


def test_london_clock_change_nights_have_one_hour_less_and_more() -> None:
    nights = BusinessCalendar(parse_business_hours("Sun 00:00-03:00"), LONDON)
    spring = local(LONDON, 2026, 3, 29)
    assert nights.elapsed(spring, spring + hours(24)) == hours(2)
    assert nights.add(spring, hours(1.5)) == local(LONDON, 2026, 3, 29, 2, 30)
    autumn = local(LONDON, 2026, 10, 25)
    assert nights.elapsed(autumn, autumn + hours(25)) == hours(4)


def test_sydney_daylight_saving_starts_in_october_and_ends_in_april() -> None:
    sundays = BusinessCalendar(parse_business_hours("Sun 00:00-24:00"), SYDNEY)
    october = local(SYDNEY, 2026, 10, 4)
    assert sundays.elapsed(october, local(SYDNEY, 2026, 10, 5)) == hours(23)
    assert sundays.add(october, hours(3)) == local(SYDNEY, 2026, 10, 4, 4)
    april = local(SYDNEY, 2026, 4, 5)
    assert sundays.elapsed(april, local(SYDNEY, 2026, 4, 6)) == hours(25)
    office = BusinessCalendar(OFFICE, SYDNEY)
    friday = local(SYDNEY, 2026, 10, 2, 16)
    assert office.add(friday, hours(2)) == local(SYDNEY, 2026, 10, 5, 10)


def test_casablanca_summer_time_paused_for_ramadan_is_followed() -> None:
    # Morocco drops from +01 to +00 for about five weeks, from 2026-02-15 to 2026-03-22.
    casablanca = ZoneInfo("Africa/Casablanca")
    calendar = BusinessCalendar(parse_business_hours("Mon-Sun 09:00-17:00"), casablanca)
    start = local(casablanca, 2026, 2, 10, 9)
    assert calendar.add(start, hours(20 * 8 + 1)) == datetime(2026, 3, 2, 10, tzinfo=UTC)
    assert calendar.elapsed(start, local(casablanca, 2026, 4, 1)) == hours(50 * 8)
    assert calendar.next_open(local(casablanca, 2026, 3, 1, 18)) == datetime(
        2026, 3, 2, 9, tzinfo=UTC
    )


def test_kolkata_half_hour_offset_shifts_opening_to_half_past_in_utc() -> None:
    calendar = BusinessCalendar(OFFICE, KOLKATA)
    assert calendar.is_open(datetime(2026, 1, 12, 3, 30, tzinfo=UTC))
    assert not calendar.is_open(datetime(2026, 1, 12, 3, 29, 59, tzinfo=UTC))
    friday = local(KOLKATA, 2026, 1, 9, 16)
    assert calendar.add(friday, hours(2)) == datetime(2026, 1, 12, 4, 30, tzinfo=UTC)


def test_always_open_business_time_is_plain_elapsed_time() -> None:
    calendar = always_open()
    start = datetime(2026, 3, 8, 1, 2, 3, 456_789, tzinfo=NEW_YORK)
    end = datetime(2027, 11, 1, 4, 5, 6, 7, tzinfo=SYDNEY)
    assert calendar.elapsed(start, end) == end - start
    assert calendar.add(start, end - start) == end
    assert calendar.is_open(start)
    assert calendar.next_open(start) == start
    assert calendar.hours.always_open


def test_naive_datetimes_are_rejected() -> None:
    calendar = BusinessCalendar(OFFICE, LONDON)
    naive = datetime(2026, 1, 12, 10)
    aware = naive.replace(tzinfo=UTC)
    with pytest.raises(ValueError, match="timezone-aware"):
        calendar.is_open(naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        calendar.elapsed(naive, aware)
    with pytest.raises(ValueError, match="timezone-aware"):
        calendar.elapsed(aware, naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        calendar.add(naive, hours(1))
    with pytest.raises(ValueError, match="timezone-aware"):
        calendar.next_open(naive)


def test_adding_to_a_schedule_with_no_open_hours_raises() -> None:
    calendar = BusinessCalendar(WeeklyHours(CLOSED), LONDON)
    start = local(LONDON, 2026, 1, 12)
    with pytest.raises(ValueError, match="no open hours"):
        calendar.add(start, hours(1))
    with pytest.raises(ValueError, match="never opens"):
        calendar.next_open(start)
    assert calendar.add(start, timedelta(0)) == start


def test_holidays_every_day_raise_instead_of_searching_forever() -> None:
    calendar = BusinessCalendar(OFFICE, LONDON, lambda day: True)
    start = local(LONDON, 2026, 1, 12)
    with pytest.raises(ValueError, match="less than that in the next 20 years"):
        calendar.add(start, hours(1))
    with pytest.raises(ValueError, match="never opens in the 20 years"):
        calendar.next_open(start)


def test_negative_amounts_are_rejected() -> None:
    with pytest.raises(ValueError, match="negative"):
        BusinessCalendar(OFFICE, LONDON).add(local(LONDON, 2026, 1, 12), hours(-1))


@pytest.mark.parametrize("holidays", [None, country_holidays("US")])
def test_large_additions_skip_whole_weeks_quickly(
    holidays: Callable[[date], bool] | None,
) -> None:
    calendar = BusinessCalendar(OFFICE, NEW_YORK, holidays)
    start = local(NEW_YORK, 2026, 1, 9, 16)
    amount = timedelta(days=400)
    end = calendar.add(start, amount)  # also loads the holiday years used below
    best = float("inf")
    for _ in range(3):
        began = time.perf_counter()
        assert calendar.add(start, amount) == end
        best = min(best, time.perf_counter() - began)
    assert calendar.elapsed(start, end) == amount
    # The budget is 10 ms; the margin keeps a busy CI machine from failing the build.
    assert best < 0.05


# --- properties against a brute-force oracle ---------------------------------------------------

ZONES = [
    "America/New_York",
    "Europe/London",
    "Australia/Sydney",
    "Australia/Lord_Howe",  # 30-minute DST shift
    "America/Sao_Paulo",
    "Asia/Kolkata",
    "Pacific/Chatham",  # +12:45 / +13:45
    "UTC",
    "America/Santiago",  # southern DST, changes at local midnight
    "Europe/Dublin",  # negative DST in the tz database
    "America/St_Johns",  # -03:30 with DST
    "Asia/Kathmandu",  # +05:45
    "Africa/Casablanca",  # DST suspended for Ramadan
    "America/Havana",  # changes at local midnight
]
FIRST_MINUTE = datetime(2024, 1, 1, tzinfo=UTC)
MINUTES_IN_RANGE = (datetime(2027, 12, 20, tzinfo=UTC) - FIRST_MINUTE) // timedelta(minutes=1)


@functools.cache
def offset_change_days(zone: str) -> tuple[int, ...]:
    """Minutes (from FIRST_MINUTE, at UTC midnight) of days on which the zone's offset changes."""
    tz = ZoneInfo(zone)
    days = []
    for day in range(MINUTES_IN_RANGE // 1440):
        before = (FIRST_MINUTE + timedelta(days=day)).astimezone(tz).utcoffset()
        after = (FIRST_MINUTE + timedelta(days=day + 1)).astimezone(tz).utcoffset()
        if before != after:
            days.append(day * 1440)
    return tuple(days)


@st.composite
def schedules(draw: st.DrawFn) -> WeeklyHours:
    """Random weekly hours, biased towards whole hours, midnight starts and 24:00 ends."""
    boundary = st.one_of(st.integers(0, 24).map(lambda hour: hour * 60), st.integers(0, 1440))
    days = []
    for _ in range(7):
        points = sorted(draw(st.lists(boundary, max_size=6, unique=True)))
        days.append(tuple(zip(points[0::2], points[1::2], strict=False)))
    return WeeklyHours(tuple(days))


@st.composite
def minute_starts(draw: st.DrawFn, zone: str) -> datetime:
    """Whole-minute instants in 2024-2027, often in the days before a clock change."""
    changes = offset_change_days(zone)
    near_change = draw(st.booleans())
    if changes and near_change:
        minute = draw(st.sampled_from(changes)) + draw(st.integers(-6 * 1440, 2 * 1440))
    else:
        minute = draw(st.integers(0, MINUTES_IN_RANGE - 10 * 1440))
    return FIRST_MINUTE + timedelta(minutes=max(minute, 0))


def oracle_open_minutes(
    hours_: WeeklyHours, tz: ZoneInfo, holidays: frozenset[date], start: datetime, minutes: int
) -> list[bool]:
    """Whether each UTC minute from `start` begins with an open instant, checked one by one."""
    flags = []
    for i in range(minutes):
        wall = (start + timedelta(minutes=i)).astimezone(tz)
        minute_of_day = wall.hour * 60 + wall.minute
        in_window = any(s <= minute_of_day < e for s, e in hours_.windows[wall.weekday()])
        flags.append(in_window and wall.date() not in holidays)
    return flags


def oracle_add(start: datetime, flags: list[bool], minutes: int) -> datetime:
    """The end of the `minutes`-th open minute, walking forward from `start`."""
    if minutes == 0:
        return start
    seen = 0
    for i, is_open in enumerate(flags):
        seen += is_open
        if seen == minutes:
            return start + timedelta(minutes=i + 1)
    raise AssertionError("the oracle was asked for more minutes than it has")


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_business_time_matches_a_minute_by_minute_oracle(data: st.DataObject) -> None:
    zone = data.draw(st.sampled_from(ZONES), label="zone")
    tz = ZoneInfo(zone)
    hours_ = data.draw(schedules(), label="hours")
    start = data.draw(minute_starts(zone), label="start")
    minutes = data.draw(st.integers(0, 10 * 1440), label="minutes")
    first_local_day = start.astimezone(tz).date() - timedelta(days=1)
    holiday_days = data.draw(st.sets(st.integers(0, 13), max_size=4), label="holidays")
    holidays = frozenset(first_local_day + timedelta(days=d) for d in holiday_days)
    calendar = BusinessCalendar(hours_, tz, holidays.__contains__ if holidays else None)

    flags = oracle_open_minutes(hours_, tz, holidays, start, minutes)
    if flags:
        for i in data.draw(st.lists(st.integers(0, minutes - 1), max_size=20), label="probes"):
            assert calendar.is_open(start + timedelta(minutes=i)) == flags[i]
    # Check the whole interval plus a few sub-intervals; the oracle's flags cover them all.
    cuts = [(0, minutes)] + [
        tuple(sorted(data.draw(st.tuples(st.integers(0, minutes), st.integers(0, minutes)))))
        for _ in range(3)
    ]
    for first, stop in cuts:
        sub_start = start + timedelta(minutes=first)
        sub_flags = flags[first:stop]
        open_minutes = sum(sub_flags)
        assert calendar.elapsed(sub_start, start + timedelta(minutes=stop)) == timedelta(
            minutes=open_minutes
        )
        target = data.draw(st.integers(0, open_minutes), label="add minutes")
        assert calendar.add(sub_start, timedelta(minutes=target)) == oracle_add(
            sub_start, sub_flags, target
        )
        if sub_flags:
            assert calendar.is_open(sub_start) == sub_flags[0]
        if any(sub_flags):
            first_open = sub_start + timedelta(minutes=sub_flags.index(True))
            assert calendar.next_open(sub_start) == first_open


@settings(max_examples=150, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    hours_=schedules(),
    start_us=st.integers(0, (MINUTES_IN_RANGE - 80 * 1440) * 60_000_000),
    amount_us=st.integers(0, 60 * 86_400_000_000),
)
def test_elapsed_undoes_add_to_the_microsecond(
    zone: str, hours_: WeeklyHours, start_us: int, amount_us: int
) -> None:
    assume(any(hours_.windows))
    # add() searches 20 years ahead: a schedule open minutes a week may not hold the amount.
    weekly_minutes = sum(b - a for day in hours_.windows for a, b in day)
    assume(amount_us <= weekly_minutes * 60_000_000 * 50 * 19)
    calendar = BusinessCalendar(hours_, ZoneInfo(zone))
    start = FIRST_MINUTE + timedelta(microseconds=start_us)
    amount = timedelta(microseconds=amount_us)
    end = calendar.add(start, amount)
    assert end >= start
    assert calendar.elapsed(start, end) == amount
    if amount:
        # Earliest: one microsecond sooner there is not yet enough business time.
        assert calendar.elapsed(start, end - timedelta(microseconds=1)) < amount


@settings(max_examples=200, deadline=None)
@given(hours_=schedules())
def test_describe_round_trips_for_any_schedule_that_is_ever_open(hours_: WeeklyHours) -> None:
    assume(any(hours_.windows))
    assert parse_business_hours(hours_.describe()) == hours_


def test_more_business_time_than_twenty_years_hold_is_refused_in_words() -> None:
    # Open 28 minutes a week: 25 days of business time is about 24 years away.
    hours_ = WeeklyHours(((), (), (), (), (), (), ((92, 120),)))
    calendar = BusinessCalendar(hours_, ZoneInfo("America/New_York"))
    with pytest.raises(ValueError, match="less than that in the next 20 years"):
        calendar.add(FIRST_MINUTE, timedelta(days=25))
