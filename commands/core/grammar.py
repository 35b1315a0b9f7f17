"""The small languages users type: command lines, durations, dates, quarters."""

from __future__ import annotations

import difflib
import functools
import re
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta


class GrammarError(ValueError):
    """A piece of user input that does not follow the grammar; the message says what is expected."""


class Word(str):
    """A word of a command line that remembers whether it was written in quotes.

    Only a word whose quote opens it counts as quoted: `"a=b"` is text, while `to="Index Coop"`
    is the option `to` with a quoted value.
    """

    quoted: bool = False

    def __new__(cls, text: str, quoted: bool = False) -> Word:
        word = super().__new__(cls, text)
        word.quoted = quoted
        return word


_OPEN_QUOTES = {'"': '"', "“": "”", "”": "”"}


def tokenize(text: str) -> list[Word]:
    """Split a command line at spaces, keeping "double quoted" runs together as one word.

    Apostrophes are common in prose ("Set's roadmap"), so only double quotes group words.
    """
    words: list[Word] = []
    current: list[str] = []
    quoted = in_word = False
    closing: str | None = None
    for char in text:
        if closing is not None:
            if char == closing or (closing == "”" and char == '"'):
                closing = None
            else:
                current.append(char)
        elif char in _OPEN_QUOTES:
            closing, quoted, in_word = _OPEN_QUOTES[char], quoted or not in_word, True
        elif char.isspace():
            if in_word:
                words.append(Word("".join(current), quoted))
            current, quoted, in_word = [], False, False
        else:
            current.append(char)
            in_word = True
    if closing is not None:
        raise GrammarError('There is an unbalanced quote in that line: close it with a matching "')
    if in_word:
        words.append(Word("".join(current), quoted))
    return words


def quote(word: str) -> str:
    """A word as it must be typed to come back from `tokenize` as itself (one word).

    Words with spaces, nothing at all, or a quote at the start are wrapped in double quotes.
    A word cannot contain a double quote itself: the grammar has no escape for one.
    """
    if word and not any(c.isspace() for c in word) and word[0] not in _OPEN_QUOTES:
        return word
    return f'"{word}"'


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(bd|bh|w|d|h|m|s)", re.IGNORECASE)
_ISO_DURATION = re.compile(
    r"^P(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?"
    r"(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$",
    re.IGNORECASE,
)
# Long forms people write, and the unit each stands for: "2 business days", "1 hour 30 minutes".
_LONG_UNITS = (
    (re.compile(r"business\s*days?\b", re.IGNORECASE), "bd"),
    (re.compile(r"business\s*hours?\b", re.IGNORECASE), "bh"),
    (re.compile(r"weeks?\b", re.IGNORECASE), "w"),
    (re.compile(r"days?\b", re.IGNORECASE), "d"),
    (re.compile(r"(?:hours?|hrs?)\b", re.IGNORECASE), "h"),
    (re.compile(r"(?:minutes?|mins?)\b", re.IGNORECASE), "m"),
    (re.compile(r"(?:seconds?|secs?)\b", re.IGNORECASE), "s"),
)
_UNIT_SECONDS = {"w": 604800, "d": 86400, "bh": 3600, "h": 3600, "m": 60, "s": 1}
_EXPECTED = 'expected a duration such as "90s", "15m", "4h", "2d" or ISO 8601 "PT4H"'
_EXPECTED_SLA = (
    'expected a duration such as "30m", "4bh" (business hours), "2bd" (business days), '
    '"1 business day 4h" or ISO 8601 "PT4H"'
)


@dataclass(frozen=True)
class WrittenDuration:
    """A duration as it was written: business days, plus time, and the unit to show it in.

    A business day has no fixed length: it is the working day of whichever calendar the
    duration is counted on, so it stays a count until `on` is given that length.
    """

    # Business days ("2bd"), each as long as the calendar's working day.
    days: float
    # Everything else: hours, minutes, seconds (business hours are hours), and d or w.
    time: timedelta
    # "bd" or "bh" when written in business units, else "" (shown as before).
    unit: str
    # Whether calendar days or weeks ("2d", "1w") were written.
    calendar_days: bool

    def on(self, day: timedelta) -> timedelta:
        """The duration on a calendar whose working day lasts `day`."""
        return day * self.days + self.time

    def __str__(self) -> str:
        """The duration in its own units, written back so that it parses to itself."""
        parts = [f"{_number(self.days)}bd"] if self.days else []
        seconds = self.time.total_seconds()
        if self.unit and not self.calendar_days:
            hours, seconds = divmod(seconds, 3600)
            parts += [f"{_number(hours)}bh"] if hours else []
        for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
            amount, seconds = divmod(seconds, size)
            if amount:
                parts.append(f"{_number(amount)}{unit}")
        if seconds:
            parts.append(f"{_number(seconds)}s")
        return " ".join(parts) or "0s"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def parse_written_duration(text: str, *, allow_zero: bool = False) -> WrittenDuration:
    """Read any duration: "90s", "4h", "2d", "1h30m", ISO 8601 "PT4H", "2bd", "4bh",
    "2 business days", "1 business day 3h". The one reader: `parse_duration` is built on it."""
    raw = text.strip()
    if not raw:
        raise GrammarError(f"Empty duration: {_EXPECTED}")
    iso = _ISO_DURATION.match(raw)
    if iso and raw.upper() not in ("P", "PT") and any(iso.groupdict().values()):
        parts = [(v, k) for k, v in iso.groupdict().items() if v]
    else:
        compact = raw
        for pattern, unit in _LONG_UNITS:
            compact = pattern.sub(unit, compact)
        compact = compact.replace(" ", "")
        parts = _DURATION_PART.findall(compact)
        if not parts or "".join(n + u for n, u in parts).lower() != compact.lower():
            raise GrammarError(f'"{text}" is not a duration: {_EXPECTED_SLA}')
    units = {u.lower() for _, u in parts}
    business = bool(units & {"bd", "bh"})
    calendar_days = bool(units & {"d", "w"})
    if business and calendar_days:
        raise GrammarError(
            f'"{text}" mixes calendar days with business units: write it all in business '
            'units ("1bd 4bh") or all in calendar ones ("1d 4h").'
        )
    days = sum(float(n) for n, u in parts if u.lower() == "bd")
    seconds = sum(float(n) * _UNIT_SECONDS[u.lower()] for n, u in parts if u.lower() != "bd")
    if days + seconds == 0 and not allow_zero:
        raise GrammarError(f'"{text}" is not a positive duration: {_EXPECTED_SLA}')
    unit = "bd" if days else ("bh" if business else "")
    return WrittenDuration(days, timedelta(seconds=seconds), unit, calendar_days)


def parse_duration(text: str, *, allow_zero: bool = False) -> timedelta:
    """Read "90s", "15m", "4h", "2d", "1h30m" or ISO 8601 ("PT4H", "P2D") as a duration.

    Business units ("2bd", "4bh") only mean something on an SLA's calendar, so they are
    refused here with a word on what to write instead.
    """
    try:
        written = parse_written_duration(text, allow_zero=allow_zero)
    except GrammarError as exc:
        raise GrammarError(str(exc).replace(_EXPECTED_SLA, _EXPECTED)) from None
    if written.unit:
        raise GrammarError(
            f'"{text}" is in business days or hours, which only SLA policies count: '
            'write plain time here, e.g. "4h" or "2d".'
        )
    return written.time


# What `parse_until` gives for "tomorrow": the start of the person's next working day.
TOMORROW = "tomorrow"
_TOMORROW_WORDS = ("tomorrow", "tomorrow-morning", "morning")


def parse_until(text: str) -> timedelta | str:
    """Read how long to wait: a duration from now ("1h", "90m") or "tomorrow" (`TOMORROW`)."""
    if text.strip().lower() in _TOMORROW_WORDS:
        return TOMORROW
    try:
        return parse_duration(text)
    except GrammarError:
        raise GrammarError(
            f'"{text}" is neither a duration nor "tomorrow": expected e.g. "1h", "30m", or '
            '"tomorrow" (the start of your next working day)'
        ) from None


def format_duration(value: timedelta) -> str:
    """Write a duration compactly ("1d 4h", "15m", "2s") for people to read."""
    total = int(value.total_seconds())
    if total == 0:
        return "0s"
    sign = "-" if total < 0 else ""
    total = abs(total)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        amount, total = divmod(total, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return sign + " ".join(parts[:2])


def format_in(value: timedelta, unit: str, day: timedelta) -> str:
    """Write a duration in the unit it was written in: "1 business day 3h", "27 business hours".

    `unit` is a `WrittenDuration.unit`; `day` the working day of the calendar it counts on.
    Plain durations read as `format_duration` writes them.
    """
    if unit not in ("bd", "bh") or day <= timedelta(0):
        return format_duration(value)
    sign = "-" if value < timedelta(0) else ""
    left = abs(value)
    size, noun = (day, "business day") if unit == "bd" else (timedelta(hours=1), "business hour")
    whole, rest = divmod(left, size)
    if not whole:
        return sign + format_duration(rest)
    head = f"{whole} {noun}" + ("" if whole == 1 else "s")
    if unit == "bd":
        tail = format_duration(rest) if rest >= timedelta(seconds=1) else ""
    else:
        minutes = int(rest.total_seconds()) // 60
        tail = f"{minutes}m" if minutes else ""
    return sign + " ".join(p for p in (head, tail.split(" ")[0] if tail else "") if p)


def parse_date(text: str) -> date:
    """Read a YYYY-MM-DD date."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise GrammarError(
            f'"{text}" is not a date: expected YYYY-MM-DD, e.g. 2026-03-31'
        ) from None


_QUARTER = re.compile(r"^(\d{4})\s*-?\s*Q([1-4])$|^Q([1-4])\s*-?\s*(\d{4})$", re.IGNORECASE)


@dataclass(frozen=True, order=True)
class Quarter:
    """A calendar quarter such as 2026Q1."""

    year: int
    number: int

    def __str__(self) -> str:
        return f"{self.year}Q{self.number}"


def parse_quarter(text: str) -> Quarter:
    """Read a quarter written as 2026Q1 (also 2026-Q1 or Q1 2026)."""
    match = _QUARTER.match(text.strip())
    if not match:
        raise GrammarError(f'"{text}" is not a quarter: expected YEARQn, e.g. 2026Q1')
    year, number = (match[1], match[2]) if match[1] else (match[4], match[3])
    return Quarter(int(year), int(number))


WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def parse_weekday(text: str) -> int:
    """Read a weekday ("thursday", "Thu") as 0 = Monday ... 6 = Sunday."""
    word = text.strip().lower()
    for number, name in enumerate(WEEKDAYS):
        if len(word) >= 3 and name.startswith(word):
            return number
    raise GrammarError(f'"{text}" is not a weekday: expected e.g. thursday or thu')


_CLOCK_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def parse_clock_time(text: str) -> str:
    """Read a wall-clock time "16:00" (24-hour); return it as HH:MM."""
    match = _CLOCK_TIME.match(text.strip())
    if not match:
        raise GrammarError(f'"{text}" is not a time of day: expected HH:MM (24-hour), e.g. 16:00')
    return f"{int(match[1]):02d}:{match[2]}"


@functools.cache
def _zone_names() -> dict[str, str]:
    """Every IANA zone name, by its lower-case form (people type europe/london)."""
    return {name.lower(): name for name in zoneinfo.available_timezones()}


def parse_timezone(text: str) -> str:
    """Read an IANA time zone name such as Europe/London, in any case; return its proper name."""
    name = _zone_names().get(text.strip().lower())
    if name is None:
        raise GrammarError(
            f'"{text}" is not a time zone: expected an IANA name such as Europe/London '
            "or America/New_York"
        )
    return name


def nearest(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate closest to a mistyped word, if any is close enough to suggest."""
    pool = list(candidates)
    lowered = {c.lower(): c for c in pool}
    found = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    if found:
        return lowered[found[0]]
    # A prefix is a strong hint even when the edit distance is large ("smart" -> "Smart contract").
    prefixed = [c for c in pool if c.lower().startswith(word.lower())]
    return prefixed[0] if len(prefixed) == 1 else None


def did_you_mean(word: str, candidates: Iterable[str], before: str = "", after: str = "") -> str:
    """A " Did you mean X?" suffix when a near match exists, else an empty string."""
    match = nearest(word, candidates)
    return f" Did you mean {before}{match}{after}?" if match else ""
