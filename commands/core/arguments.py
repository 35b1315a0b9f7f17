"""From the words after a command to typed arguments, with answers that say what is wrong.

Each parameter kind is one `ParamType` in `TYPES`: how to tell a word of that kind from free
text, and how to turn it into a value. Rules that hold for a kind hold for every command that
takes it, checked once here: text is normalised (NFC) and refused when it holds characters that
cannot be typed back or stored (NUL, other control characters, bidi overrides); numbers and ids
stay within what the database columns hold; dates and quarters within a sane window.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from commands.core import lookup
from commands.core.context import CommandError
from commands.core.grammar import (
    GrammarError,
    Quarter,
    Word,
    parse_clock_time,
    parse_date,
    parse_duration,
    parse_quarter,
    parse_timezone,
    parse_until,
    parse_weekday,
)
from commands.core.registry import Command, Kind, Param

_KEYWORD = re.compile(r"^([a-z][a-z_-]*)=(.*)$", re.DOTALL | re.IGNORECASE)
_TEXTUAL = (Kind.TEXT, Kind.AREA)

# What a 32-bit integer column holds (PostgreSQL INTEGER; ids on both databases).
MAX_INT = 2**31 - 1
# Dates people plan with; beyond these the calendar arithmetic has nothing sensible to say.
FIRST_DATE, LAST_DATE = date(2000, 1, 1), date(2099, 12, 31)
# The longest duration any command takes (a year is already more than any SLA or meeting).
MAX_DURATION = timedelta(days=366)
# Text with no limit of its own (a help topic, a meeting date) is still not a novel.
MAX_TEXT = 1000
# Nothing but free text is longer than this: a longer name, number or link is refused before
# it is looked up (or repeated back in an answer).
MAX_WORD = 500
# Characters that reorder or hide text (bidi embeddings, overrides and isolates).
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def clean_text(text: str, what: str, *, multiline: bool = False) -> str:
    """User text as stored: NFC-normalised, refused if it holds control or bidi characters."""
    normal = unicodedata.normalize("NFC", text)
    for char in normal:
        allowed_space = multiline and char in "\n\t"
        if (unicodedata.category(char) == "Cc" and not allowed_space) or char in _BIDI_CONTROLS:
            name = unicodedata.name(char, "a control character")
            raise GrammarError(
                f"{what} contains U+{ord(char):04X} ({name.lower()}), which cannot be typed back "
                "or shown safely: write it without."
            )
    return normal


def split(command: Command, words: Sequence[str]) -> dict[str, str]:
    """Assign the words of a line to the command's parameters, as raw strings."""
    keywords = {p.name: p for p in command.params if p.keyword}
    positional = [p for p in command.params if not p.keyword]
    raw: dict[str, str] = {}
    rest: list[str] = []
    for word in words:
        # A quoted "a=b" is text; an unquoted one is an option, and must be a known one.
        match = None if _quoted(word) else _KEYWORD.match(word)
        if match and match[1].lower() in keywords:
            raw[match[1].lower()] = match[2]
        elif match and keywords:
            options = ", ".join(f"{k}=" for k in keywords)
            raise CommandError(
                f"/{command.name} has no option {match[1]}=; it takes {options}.",
                usage=command.usage,
            )
        else:
            rest.append(word)
    raw.update(_assign(command, positional, rest))
    return raw


def _quoted(word: str) -> bool:
    return isinstance(word, Word) and word.quoted


def _assign(command: Command, params: list[Param], words: list[str]) -> dict[str, str]:
    # The first free-text parameter soaks up extra words, so unquoted names with spaces work:
    # "/dri set Smart contract review @bob" reads as if "Smart contract review" were quoted.
    # A quoted name is taken as written and never extended.
    absorber = next((i for i, p in enumerate(params) if p.kind in _TEXTUAL), None)
    if absorber is not None and len(words) > absorber and _quoted(words[absorber]):
        absorber = None
    if absorber is None:
        if len(words) > len(params):
            extra = " ".join(words[len(params) :])
            raise CommandError(f"/{command.name} does not take {extra!r}.", usage=command.usage)
        return {p.name: w for p, w in zip(params, words, strict=False)}
    out: dict[str, str] = {}
    head, tail = params[:absorber], params[absorber + 1 :]
    words = list(words)
    for p in head:
        if not words:
            return out
        out[p.name] = words.pop(0)
    taken_tail: dict[str, str] = {}
    for p in reversed(tail):
        # Leave at least one word for the free-text parameter.
        if len(words) <= 1:
            break
        if p.required or TYPES[p.kind].looks_like(p, words[-1]):
            taken_tail[p.name] = words.pop()
    if words:
        out[params[absorber].name] = " ".join(words)
    out.update(taken_tail)
    return out


async def convert(
    session: AsyncSession, command: Command, raw: Mapping[str, str], platform: str
) -> dict[str, Any]:
    """Turn raw strings into typed values, checking every parameter of the command."""
    values: dict[str, Any] = {}
    for param in command.params:
        text = raw.get(param.name)
        if text is None or not text.strip():
            if param.required:
                raise CommandError(f"{_what(param)} is missing.", usage=command.usage)
            values[param.name] = None
            continue
        kind = TYPES[param.kind]
        try:
            if not kind.multiline and len(text.strip()) > MAX_WORD:
                raise GrammarError(
                    f"The {param.name} is {len(text.strip())} characters long; "
                    f"the most is {MAX_WORD}."
                )
            cleaned = clean_text(text.strip(), "The " + param.name, multiline=kind.multiline)
            values[param.name] = await kind.convert(session, param, cleaned, platform)
        except GrammarError as exc:
            raise CommandError(str(exc), usage=command.usage) from None
    return values


def _what(param: Param) -> str:
    noun = "The " + param.name.replace("_", " ")
    return f"{noun} ({param.shape()})" if param.kind is not Kind.TEXT else noun


Convert = Callable[[AsyncSession, Param, str, str], Awaitable[Any]]


@dataclass(frozen=True)
class ParamType:
    """What one parameter kind accepts: how its words look and how they become values."""

    convert: Convert
    # Whether a word could be a value of this kind (so an optional parameter takes it from
    # the end of a free-text run). Kinds that look like any text never do.
    looks_like: Callable[[Param, str], bool] = lambda param, word: False
    # Free text may span lines; names, numbers and links may not.
    multiline: bool = False


def _parses(parse: Callable[[str], object]) -> Callable[[Param, str], bool]:
    def looks_like(param: Param, word: str) -> bool:
        try:
            parse(word)
        except GrammarError:
            return False
        return True

    return looks_like


def _plain(parse: Callable[[str], object]) -> Convert:
    async def convert(session: AsyncSession, param: Param, text: str, platform: str) -> Any:
        return parse(text)

    return convert


def number(text: str, what: str = "a number", *, low: int = -MAX_INT, high: int = MAX_INT) -> int:
    """Read a whole number ("12" or "#12"), within what a database column holds."""
    try:
        value = int(text.lstrip("#"))
    except ValueError:
        raise GrammarError(f"{text!r} is not {what}: expected e.g. 12.") from None
    if not low <= value <= high:
        raise GrammarError(f"{text} is out of range for {what}: expected {low} to {high}.")
    return value


def _id(text: str, what: str) -> int:
    # Any number is a well-formed id; the lookup answers "there is no #n" for those not stored.
    try:
        return int(text.lstrip("#"))
    except ValueError:
        raise GrammarError(f"{text!r} is not {what}: expected e.g. 12.") from None


def _by_id(find: Callable[[AsyncSession, int], Awaitable[Any]], what: str) -> Convert:
    async def convert(session: AsyncSession, param: Param, text: str, platform: str) -> Any:
        return await find(session, _id(text, what))

    return convert


def _looks_numeric(param: Param, word: str) -> bool:
    try:
        int(word.lstrip("#"))
    except ValueError:
        return False
    return True


async def _text(session: AsyncSession, param: Param, text: str, platform: str) -> str:
    limit = param.max_length or MAX_TEXT
    if len(text) > limit:
        raise GrammarError(f"The {param.name} is {len(text)} characters long; the most is {limit}.")
    return text


async def _person(session: AsyncSession, param: Param, text: str, platform: str) -> Any:
    return await lookup.find_person(session, text, platform)


async def _org(session: AsyncSession, param: Param, text: str, platform: str) -> Any:
    return await lookup.find_org(session, text)


async def _area(session: AsyncSession, param: Param, text: str, platform: str) -> Any:
    if too_long := lookup.name_too_long(text):
        raise GrammarError(too_long[0].upper() + too_long[1:] + ".")
    if param.allow_new:
        found = await lookup.find_area(session, text)
        if found is not None and found.retired_at is not None:
            raise CommandError(lookup.retired_refusal(found))
        return found or lookup.clean_name(text)
    return await lookup.require_area(session, text, retired_ok=param.retired_ok)


def parse_plan_date(text: str) -> date:
    """A YYYY-MM-DD date within the window Liaison plans in (2000 to 2099)."""
    day = parse_date(text)
    if not FIRST_DATE <= day <= LAST_DATE:
        raise GrammarError(
            f"{day.isoformat()} is outside the dates Liaison plans with: "
            f"expected {FIRST_DATE.isoformat()} to {LAST_DATE.isoformat()}."
        )
    return day


def parse_plan_quarter(text: str) -> Quarter:
    """A quarter such as 2026Q1 within the window Liaison plans in."""
    quarter = parse_quarter(text)
    if not FIRST_DATE.year <= quarter.year <= LAST_DATE.year:
        raise GrammarError(
            f"{text.strip()} is outside the quarters Liaison plans with: expected "
            f"{FIRST_DATE.year}Q1 to {LAST_DATE.year}Q4."
        )
    return quarter


def parse_bounded_duration(text: str) -> timedelta:
    """A positive duration of at most a year."""
    value = parse_duration(text)
    if value > MAX_DURATION:
        raise GrammarError(f'"{text}" is longer than any command takes: the most is 366d.')
    return value


def parse_bounded_until(text: str) -> timedelta | str:
    """A wait of at most a year, or "tomorrow"."""
    value = parse_until(text)
    if isinstance(value, timedelta) and value > MAX_DURATION:
        raise GrammarError(f'"{text}" is longer than any command takes: the most is 366d.')
    return value


async def _choice(session: AsyncSession, param: Param, text: str, platform: str) -> str:
    if text.lower() not in param.choices:
        expected = ", ".join(param.choices)
        raise GrammarError(f"{text!r} is not a valid {param.name}: expected one of {expected}.")
    return text.lower()


async def _int(session: AsyncSession, param: Param, text: str, platform: str) -> int:
    # Counts are never negative; each command says which of them make sense (weeks 1 to 104).
    return number(text, low=0)


async def _category(session: AsyncSession, param: Param, text: str, platform: str) -> str:
    name = lookup.clean_name(text)
    if not name or len(name) > lookup.MAX_CATEGORY:
        raise GrammarError(f"A category is 1 to {lookup.MAX_CATEGORY} characters long.")
    if param.allow_new:
        # The spelling already on the map wins, so "Grow" and "grow" stay one category.
        return await lookup.find_category(session, name) or name
    return await lookup.require_category(session, name)


async def _policy(session: AsyncSession, param: Param, text: str, platform: str) -> Any:
    return await lookup.find_policy(session, text)


async def _channel(session: AsyncSession, param: Param, text: str, platform: str) -> str:
    return await lookup.find_channel(session, text)


async def _agenda_items(session: AsyncSession, param: Param, text: str, platform: str) -> Any:
    numbers = [_id(t.strip(), "an agenda item number") for t in text.split(",") if t.strip()]
    # "2,2" names item 2 once: a list of items is a set in the order first written.
    return list(dict.fromkeys(numbers))


async def _url(session: AsyncSession, param: Param, text: str, platform: str) -> str:
    parsed = urlsplit(text)
    if parsed.scheme not in ("http", "https") or not parsed.netloc or " " in text:
        raise GrammarError(
            f"{text!r} is not a link: expected an http(s) URL, e.g. "
            "https://github.com/org/repo/pull/12."
        )
    if len(text) > 500:
        raise GrammarError("A link is at most 500 characters long.")
    return text


def _choice_like(param: Param, word: str) -> bool:
    return word.lower() in param.choices


TYPES: dict[Kind, ParamType] = {
    Kind.TEXT: ParamType(_text, multiline=True),
    Kind.PERSON: ParamType(_person, lambda p, w: w.startswith(("@", "<@"))),
    Kind.AREA: ParamType(_area),
    Kind.ORG: ParamType(_org),
    Kind.DURATION: ParamType(_plain(parse_bounded_duration), _parses(parse_bounded_duration)),
    Kind.DATE: ParamType(_plain(parse_plan_date), _parses(parse_plan_date)),
    Kind.CHOICE: ParamType(_choice, _choice_like),
    Kind.QUARTER: ParamType(_plain(parse_plan_quarter), _parses(parse_plan_quarter)),
    Kind.INT: ParamType(_int, _looks_numeric),
    Kind.URL: ParamType(_url, lambda p, w: w.startswith(("http://", "https://"))),
    Kind.REVIEW: ParamType(_by_id(lookup.find_review, "a review number"), _looks_numeric),
    Kind.POLICY: ParamType(_policy),
    Kind.WEEKDAY: ParamType(_plain(parse_weekday), _parses(parse_weekday)),
    Kind.TIME: ParamType(_plain(parse_clock_time), _parses(parse_clock_time)),
    Kind.TIMEZONE: ParamType(_plain(parse_timezone), _parses(parse_timezone)),
    Kind.CHANNEL: ParamType(_channel, lambda p, w: w.startswith("#")),
    Kind.AGENDA_ITEM: ParamType(
        _by_id(lookup.find_agenda_item, "an agenda item number"), _looks_numeric
    ),
    Kind.AGENDA_ITEMS: ParamType(_agenda_items),
    Kind.ACTION: ParamType(_by_id(lookup.find_action, "an action item number"), _looks_numeric),
    Kind.ROADMAP_ITEM: ParamType(
        _by_id(lookup.find_roadmap_item, "a roadmap item number"), _looks_numeric
    ),
    Kind.UNTIL: ParamType(_plain(parse_bounded_until), _parses(parse_bounded_until)),
    Kind.CATEGORY: ParamType(_category),
}
