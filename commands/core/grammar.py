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


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(w|d|h|m|s)", re.IGNORECASE)
_ISO_DURATION = re.compile(
    r"^P(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?"
    r"(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$",
    re.IGNORECASE,
)
_UNIT_SECONDS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_duration(text: str, *, allow_zero: bool = False) -> timedelta:
    """Read "90s", "15m", "4h", "2d", "1h30m" or ISO 8601 ("PT4H", "P2D") as a duration."""
    raw = text.strip()
    expected = 'expected a duration such as "90s", "15m", "4h", "2d" or ISO 8601 "PT4H"'
    if not raw:
        raise GrammarError(f"Empty duration: {expected}")
    iso = _ISO_DURATION.match(raw)
    if iso and raw.upper() not in ("P", "PT") and any(iso.groupdict().values()):
        seconds = sum(float(v) * _UNIT_SECONDS[k] for k, v in iso.groupdict().items() if v)
    else:
        compact = raw.replace(" ", "")
        parts = _DURATION_PART.findall(compact)
        if not parts or "".join(n + u for n, u in parts).lower() != compact.lower():
            raise GrammarError(f'"{text}" is not a duration: {expected}')
        seconds = sum(float(n) * _UNIT_SECONDS[u.lower()] for n, u in parts)
    if seconds < 0 or (seconds == 0 and not allow_zero):
        raise GrammarError(f'"{text}" is not a positive duration: {expected}')
    return timedelta(seconds=seconds)


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
