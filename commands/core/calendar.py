"""Business hours: parse weekly opening times, then measure and add business time across DST.

An instant is business time when its local wall-clock time in the calendar's zone falls on a
non-holiday date, inside one of that weekday's open windows. Everything else follows from that
definition: a skipped spring-forward hour contributes nothing, and a repeated fall-back hour
counts twice when it is inside a window.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_FULL_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_BY_NAME = {name.lower(): i for i, name in enumerate(_DAY_NAMES)} | {
    name: i for i, name in enumerate(_FULL_DAY_NAMES)
}
_EXPECTED_DAYS = "expected Mon, Tue, Wed, Thu, Fri, Sat or Sun"
_EXAMPLE = "'Mon-Fri 09:00-17:00'"
_MINUTES_PER_DAY = 1440
_ALL_DAY = ((0, _MINUTES_PER_DAY),)
_RANGE = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")

# Instants are handled as integer microseconds since 0001-01-01 (a Monday) so that every sum
# is exact; day index N is then date.fromordinal(N + 1) and its weekday is N % 7.
_ONE_US = timedelta(microseconds=1)
_US_PER_MINUTE = 60_000_000
_DAY_US = 86_400_000_000
_WEEK_US = 7 * _DAY_US
_EPOCH = datetime(1, 1, 1, tzinfo=UTC)
_UNIX_EPOCH_S = (datetime(1970, 1, 1, tzinfo=UTC) - _EPOCH) // timedelta(seconds=1)
_SEARCH_YEARS = 20
_SEARCH_US = (365 * _SEARCH_YEARS + 5) * _DAY_US
# Keep probes a couple of days inside datetime's range, where local times cannot overflow.
_LAST_US = (datetime.max.replace(tzinfo=UTC) - _EPOCH) // _ONE_US - 2 * _DAY_US
# UTC offsets are sampled once a day and bisected where they differ. Only an offset that
# changes and changes back within one day could slip through; the shortest such excursion in
# the tz database lasts about four days (Africa/Freetown, 1939).
_PROBE_US = _DAY_US
# Segments are yielded in chunks that grow from a day to this, so `add` never probes much
# further than it needs: a few hours ahead costs two probes, not a chunk's sixty-five.
_CHUNK_US = 64 * _DAY_US


@dataclass(frozen=True)
class WeeklyHours:
    """Open windows per weekday (0=Monday), minutes from local midnight, end may be 1440."""

    windows: tuple[tuple[tuple[int, int], ...], ...]

    def __post_init__(self) -> None:
        if len(self.windows) != 7:
            raise ValueError(
                f"WeeklyHours needs windows for 7 weekdays (Monday first), got {len(self.windows)}"
            )
        for day, day_windows in enumerate(self.windows):
            previous_end = -1
            for start, end in day_windows:
                # Touching windows must be merged, so equal schedules compare equal.
                if not 0 <= start < end <= _MINUTES_PER_DAY or start <= previous_end:
                    raise ValueError(
                        f"{_DAY_NAMES[day]} window ({start}, {end}) is invalid: windows need "
                        "0 <= start < end <= 1440 minutes, sorted, with gaps between them"
                    )
                previous_end = end

    @property
    def always_open(self) -> bool:
        """Whether every minute of every day is open."""
        return all(day == _ALL_DAY for day in self.windows)

    def describe(self) -> str:
        """Render as text that parse_business_hours reads back, e.g. "Mon-Fri 09:00-17:00"."""
        if self.always_open:
            return "24x7"
        # Start the grouping on a day that differs from the day before it, so that wrapping
        # runs such as "Sun-Thu" come out as one clause.
        first = next((d for d in range(7) if self.windows[d] != self.windows[d - 1]), 0)
        clauses = []
        covered = 0
        while covered < 7:
            length = 1
            day_windows = self.windows[first]
            while covered + length < 7 and self.windows[(first + length) % 7] == day_windows:
                length += 1
            if day_windows:
                days = _DAY_NAMES[first]
                if length > 1:
                    days += f"-{_DAY_NAMES[(first + length - 1) % 7]}"
                ranges = " ".join(f"{_hhmm(s)}-{_hhmm(e)}" for s, e in day_windows)
                clauses.append(f"{days} {ranges}")
            first = (first + length) % 7
            covered += length
        # Never produced by parsing (which rejects schedules that are never open).
        return ", ".join(clauses) or "closed"


def parse_business_hours(text: str) -> WeeklyHours:
    """Parse e.g. "Mon-Fri 09:00-17:00".

    Accepts "24x7", or comma-separated clauses of days ("Mon", "Mon-Fri", wrapping "Fri-Mon")
    followed by one or more HH:MM-HH:MM ranges; an end of 24:00 or 00:00 means midnight.
    Ranges that overlap on the same day are rejected rather than merged, because
    "Mon-Fri 09:00-17:00, Fri 09:00-13:00" more likely means a short Friday than a typo to
    paper over; ranges that merely touch (09:00-12:00 12:00-17:00) are joined.
    """
    raw = " ".join(text.split())
    if not raw:
        raise ValueError(f"Business hours are empty (expected e.g. {_EXAMPLE} or '24x7')")
    if raw.lower() in ("24x7", "24/7"):
        return WeeklyHours((_ALL_DAY,) * 7)
    per_day: list[list[tuple[int, int, int, str]]] = [[] for _ in range(7)]
    written = 0
    for part in raw.split(","):
        clause = part.strip()
        if not clause:
            raise ValueError(
                f"'{raw}': there is an empty clause between commas "
                f"(expected clauses like {_EXAMPLE} separated by commas)"
            )
        days_token, *range_tokens = re.sub(r"\s*-\s*", "-", clause).split()
        if days_token[0].isdigit():
            raise ValueError(
                f"'{clause}': the days are missing before '{days_token}' "
                f"(expected e.g. 'Mon-Fri {days_token}')"
            )
        days = _parse_days(clause, days_token)
        if not range_tokens:
            raise ValueError(
                f"'{clause}': the hours are missing after '{days_token}' "
                f"(expected e.g. '{days_token} 09:00-17:00')"
            )
        for token in range_tokens:
            start, end = _parse_range(clause, token)
            for day in days:
                per_day[day].append((start, end, written, clause))
            written += 1
    windows = tuple(_join_day(_DAY_NAMES[day], entries) for day, entries in enumerate(per_day))
    if not any(windows):
        raise ValueError(f"'{raw}': business hours must include at least one open range")
    return WeeklyHours(windows)


def _parse_days(clause: str, token: str) -> list[int]:
    names = token.split("-")
    if len(names) > 2 or not all(names):
        raise ValueError(
            f"'{clause}': bad days '{token}' (expected one day like 'Mon' or a span like 'Mon-Fri')"
        )
    numbers = []
    for name in names:
        number = _DAY_BY_NAME.get(name.lower())
        if number is None:
            raise ValueError(f"'{clause}': unknown day '{name}' ({_EXPECTED_DAYS})")
        numbers.append(number)
    first, last = numbers[0], numbers[-1]
    return [(first + i) % 7 for i in range((last - first) % 7 + 1)]


def _parse_range(clause: str, token: str) -> tuple[int, int]:
    match = _RANGE.match(token)
    if match is None:
        raise ValueError(
            f"'{clause}': bad time range '{token}' (expected HH:MM-HH:MM, e.g. 09:00-17:00)"
        )
    sh, sm, eh, em = (int(group) for group in match.groups())
    for hour, minute in ((sh, sm), (eh, em)):
        if minute > 59 or hour > 24 or (hour == 24 and minute > 0):
            raise ValueError(
                f"'{clause}': bad time '{hour:02d}:{minute:02d}' "
                "(expected HH:MM from 00:00 to 24:00)"
            )
    start, end = sh * 60 + sm, eh * 60 + em
    if start == _MINUTES_PER_DAY:
        raise ValueError(
            f"'{clause}': range '{token}' starts at 24:00 (a range must start by 23:59)"
        )
    if end == 0:
        end = _MINUTES_PER_DAY
    if start == end:
        raise ValueError(f"'{clause}': range '{token}' is empty (the start must be before the end)")
    if start > end:
        raise ValueError(
            f"'{clause}': range '{token}' crosses midnight, which is not supported (split it "
            f"into '{token.split('-')[0]}-24:00' on one day and "
            f"'00:00-{token.split('-')[1]}' on the next)"
        )
    return start, end


def _join_day(day: str, entries: list[tuple[int, int, int, str]]) -> tuple[tuple[int, int], ...]:
    joined: list[tuple[int, int, int, str]] = []
    for entry in sorted(entries):
        if joined and entry[0] < joined[-1][1]:
            # Blame whichever range was written later: that is the one the user just added.
            earlier, later = sorted((joined[-1], entry), key=lambda item: item[2])
            source = "" if earlier[3] == later[3] else f" from '{earlier[3]}'"
            raise ValueError(
                f"'{later[3]}': {day} {_hhmm(later[0])}-{_hhmm(later[1])} overlaps "
                f"{_hhmm(earlier[0])}-{_hhmm(earlier[1])}{source} "
                "(give each day's hours only once)"
            )
        if joined and entry[0] == joined[-1][1]:
            joined[-1] = (joined[-1][0], entry[1], entry[2], entry[3])
        else:
            joined.append(entry)
    return tuple((start, end) for start, end, _, _ in joined)


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


class BusinessCalendar:
    """Business time for a weekly schedule in a time zone, skipping holidays."""

    def __init__(
        self,
        hours: WeeklyHours,
        tz: tzinfo,
        holidays: Callable[[date], bool] | None = None,
    ) -> None:
        self.hours = hours
        self.tz = tz
        self.holidays = holidays
        self._windows = tuple(
            tuple((s * _US_PER_MINUTE, e * _US_PER_MINUTE) for s, e in day) for day in hours.windows
        )
        self._day_totals = tuple(sum(e - s for s, e in day) for day in self._windows)
        self._week_total = sum(self._day_totals)
        # A zone of one offset for all time (datetime.timezone: UTC, "+02:00"), in microseconds.
        fixed = tz.utcoffset(None) if isinstance(tz, timezone) else None
        self._fixed = None if fixed is None else fixed // _ONE_US

    @property
    def day_length(self) -> timedelta:
        """A business day: the week's open time shared among its open days.

        8h for "Mon-Fri 09:00-17:00"; 24h when always open. A week of uneven days counts its
        average, so five business days are always one working week.
        """
        open_days = sum(1 for total in self._day_totals if total)
        return timedelta(microseconds=self._week_total // open_days) if open_days else timedelta(0)

    def is_open(self, at: datetime) -> bool:
        """Whether `at` is business time."""
        instant = _to_us(at, "at")
        day, time = divmod(instant + self._offset(instant), _DAY_US)
        in_window = any(s <= time < e for s, e in self._windows[day % 7])
        return in_window and not self._is_holiday(day)

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Business time in [start, end), exact to the microsecond; zero if end <= start."""
        total = sum(
            self._local_measure(a + offset, b + offset)
            for a, b, offset in self._segments(_to_us(start, "start"), _to_us(end, "end"))
        )
        return timedelta(microseconds=total)

    def add(self, start: datetime, amount: timedelta) -> datetime:
        """The earliest instant t >= start with elapsed(start, t) == amount, in UTC."""
        origin = _to_us(start, "start")
        need = amount // _ONE_US
        if need < 0:
            raise ValueError(f"Cannot add a negative amount of business time ({amount})")
        if need == 0:
            return _from_us(origin)
        if self._week_total == 0:
            raise ValueError("Cannot add business time: the schedule has no open hours")
        for a, b, offset in self._segments(origin, origin + _SEARCH_US):
            found, need = self._local_advance(a + offset, b + offset, need)
            if found is not None:
                return _from_us(found - offset)
        raise ValueError(
            f"Cannot add {amount} of business time to {start.isoformat()}: there is less than "
            f"that in the next {_SEARCH_YEARS} years (check the hours and holidays)"
        )

    def next_open(self, at: datetime) -> datetime:
        """`at` itself if open, else the start of the next open period, in UTC."""
        origin = _to_us(at, "at")
        if self._week_total:
            for a, b, offset in self._segments(origin, origin + _SEARCH_US):
                found = self._local_first_open(a + offset, b + offset)
                if found is not None:
                    return _from_us(found - offset)
        raise ValueError(
            f"The calendar never opens in the {_SEARCH_YEARS} years after {at.isoformat()} "
            "(check the hours and holidays)"
        )

    def _offset(self, instant: int) -> int:
        # Offsets only change on whole seconds, and fromtimestamp is the fastest exact lookup.
        seconds = instant // 1_000_000 - _UNIX_EPOCH_S
        offset = datetime.fromtimestamp(seconds, self.tz).utcoffset()
        return 0 if offset is None else offset // _ONE_US

    def _segments(self, lo: int, hi: int) -> Iterator[tuple[int, int, int]]:
        """Split [lo, hi) into consecutive pieces (a, b, offset) with a constant UTC offset."""
        start, hi = lo, min(hi, _LAST_US)
        if self._fixed is not None:
            # A fixed offset (UTC, the 24x7 calendar): one piece, nothing to probe.
            if start < hi:
                yield start, hi, self._fixed
            return
        chunk = _PROBE_US
        while start < hi:
            offset = self._offset(start)
            end = min(hi, start + chunk)
            chunk = min(2 * chunk, _CHUNK_US)
            known = start
            while known < end - 1:
                probe = min(known + _PROBE_US, end - 1)
                if self._offset(probe) != offset:
                    end = self._first_change(known, probe, offset)
                    break
                known = probe
            yield start, end, offset
            start = end

    def _first_change(self, same: int, changed: int, offset: int) -> int:
        while changed - same > 1:
            middle = (same + changed) // 2
            if self._offset(middle) == offset:
                same = middle
            else:
                changed = middle
        return changed

    def _is_holiday(self, day: int) -> bool:
        return self.holidays is not None and self.holidays(date.fromordinal(day + 1))

    # The helpers below work on local wall-clock time, which within one constant-offset
    # segment is UTC shifted by the offset, so measures carry over unchanged.

    def _local_measure(self, lo: int, hi: int) -> int:
        if lo >= hi:
            return 0
        first_day, first_time = divmod(lo, _DAY_US)
        last_day, last_time = divmod(hi, _DAY_US)
        if first_day == last_day:
            return self._day_measure(first_day, first_time, last_time)
        return (
            self._day_measure(first_day, first_time, _DAY_US)
            + self._full_days_measure(first_day + 1, last_day)
            + self._day_measure(last_day, 0, last_time)
        )

    def _day_measure(self, day: int, lo: int, hi: int) -> int:
        total = sum(max(0, min(e, hi) - max(s, lo)) for s, e in self._windows[day % 7])
        return total if total and not self._is_holiday(day) else 0

    def _full_days_measure(self, first: int, stop: int) -> int:
        weeks, rest = divmod(stop - first, 7)
        total = weeks * self._week_total
        total += sum(self._day_totals[(first + i) % 7] for i in range(rest))
        if self.holidays is not None:
            for day in range(first, stop):
                if self._day_totals[day % 7] and self._is_holiday(day):
                    total -= self._day_totals[day % 7]
        return total

    def _local_advance(self, lo: int, hi: int, need: int) -> tuple[int | None, int]:
        """The earliest p in [lo, hi] with measure(lo, p) == need, else None and what is left."""
        day = lo // _DAY_US
        while (day_start := day * _DAY_US) < hi:
            if self.holidays is None and day_start >= lo:
                # Stop a week short of the target so the final window is found day by day.
                weeks = min((need - 1) // self._week_total, (hi - day_start) // _WEEK_US)
                if weeks:
                    need -= weeks * self._week_total
                    day += 7 * weeks
                    continue
            lo_time, hi_time = max(lo - day_start, 0), min(hi - day_start, _DAY_US)
            if self._day_totals[day % 7] and not self._is_holiday(day):
                for s, e in self._windows[day % 7]:
                    s, e = max(s, lo_time), min(e, hi_time)
                    if s < e:
                        if e - s >= need:
                            return day_start + s + need, 0
                        need -= e - s
            day += 1
        return None, need

    def _local_first_open(self, lo: int, hi: int) -> int | None:
        day = lo // _DAY_US
        while (day_start := day * _DAY_US) < hi:
            lo_time, hi_time = max(lo - day_start, 0), min(hi - day_start, _DAY_US)
            for s, e in self._windows[day % 7]:
                if max(s, lo_time) < min(e, hi_time) and not self._is_holiday(day):
                    return day_start + max(s, lo_time)
            day += 1
        return None


def _to_us(moment: datetime, name: str) -> int:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {moment.isoformat()}")
    return (moment - _EPOCH) // _ONE_US


def _from_us(instant: int) -> datetime:
    return _EPOCH + timedelta(microseconds=instant)


@functools.lru_cache(maxsize=256)
def working_hours(hours: str, zone: str, holidays: str | None = None) -> BusinessCalendar:
    """The calendar of hours like "Mon-Fri 09:00-17:00" in a time zone, skipping a country's
    holidays. One per distinct setting, shared (calendars are never changed): a list of 10,000
    reviews of one org, or a ping to each of its people, builds its hours and holidays once."""
    return BusinessCalendar(
        parse_business_hours(hours),
        ZoneInfo(zone),
        country_holidays(holidays) if holidays else None,
    )


@functools.cache
def always_open() -> BusinessCalendar:
    """The 24x7 calendar in UTC without holidays, where business time is plain elapsed time.
    One, shared (calendars are never changed): firing a thousand stages of 24x7 policies built
    one for each review's every look at its clocks, an eighth of the firing's CPU."""
    return BusinessCalendar(WeeklyHours((_ALL_DAY,) * 7), UTC)


def country_holidays(code: str, subdiv: str | None = None) -> Callable[[date], bool]:
    """Public holidays of a country (and optional subdivision) from the `holidays` package."""
    # Imported here so calendars without holidays never pay for loading every country's rules.
    import holidays as holiday_rules

    supported = holiday_rules.list_supported_countries()
    country = code.strip().upper()
    if country not in supported:
        raise ValueError(
            f"Unknown country code '{code}' for holidays "
            "(expected an ISO 3166-1 alpha-2 code such as US, GB, DE, FR or IN)"
        )
    region = None
    if subdiv is not None:
        by_upper = {name.upper(): name for name in supported[country]}
        region = by_upper.get(subdiv.strip().upper())
        if region is None:
            examples = ", ".join(supported[country][:5]) or "none exist"
            raise ValueError(
                f"Unknown subdivision '{subdiv}' of {country} for holidays "
                f"(expected one of its codes, e.g. {examples})"
            )
    return _YearlyHolidays(country, region)


class _YearlyHolidays:
    """Holiday lookup that loads each year from the `holidays` package on first use."""

    def __init__(self, country: str, subdiv: str | None) -> None:
        self._country = country
        self._subdiv = subdiv
        self._years: dict[int, frozenset[date]] = {}

    def __call__(self, day: date) -> bool:
        """Whether `day` is a public holiday."""
        dates = self._years.get(day.year)
        if dates is None:
            import holidays as holiday_rules

            rules = holiday_rules.country_holidays(
                self._country, subdiv=self._subdiv, years=day.year
            )
            dates = self._years[day.year] = frozenset(rules)
        return day in dates
