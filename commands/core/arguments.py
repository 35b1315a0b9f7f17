"""From the words after a command to typed arguments, with answers that say what is wrong."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from commands.core import lookup
from commands.core.context import CommandError
from commands.core.grammar import (
    GrammarError,
    Word,
    parse_clock_time,
    parse_date,
    parse_duration,
    parse_quarter,
    parse_timezone,
    parse_weekday,
)
from commands.core.registry import Command, Kind, Param

_KEYWORD = re.compile(r"^([a-z][a-z_-]*)=(.*)$", re.DOTALL | re.IGNORECASE)
_TEXTUAL = (Kind.TEXT, Kind.AREA)
_NUMBERED = (Kind.AGENDA_ITEM, Kind.ACTION, Kind.ROADMAP_ITEM)


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
        if p.required or _looks_like(p, words[-1]):
            taken_tail[p.name] = words.pop()
    if words:
        out[params[absorber].name] = " ".join(words)
    out.update(taken_tail)
    return out


def _looks_like(param: Param, word: str) -> bool:
    """Whether a word could be a value of an optional parameter (so it is not free text)."""
    try:
        if param.kind is Kind.CHOICE:
            return word.lower() in param.choices
        if param.kind is Kind.QUARTER:
            parse_quarter(word)
        elif param.kind is Kind.DATE:
            parse_date(word)
        elif param.kind is Kind.DURATION:
            parse_duration(word)
        elif param.kind in (Kind.INT, Kind.REVIEW, *_NUMBERED):
            int(word.lstrip("#"))
        elif param.kind is Kind.WEEKDAY:
            parse_weekday(word)
        elif param.kind is Kind.TIME:
            parse_clock_time(word)
        elif param.kind is Kind.TIMEZONE:
            parse_timezone(word)
        elif param.kind is Kind.CHANNEL:
            return word.startswith("#")
        elif param.kind is Kind.URL:
            return word.startswith(("http://", "https://"))
        elif param.kind is Kind.PERSON:
            return word.startswith(("@", "<@"))
        else:
            return False
    except (GrammarError, ValueError):
        return False
    return True


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
        try:
            values[param.name] = await _convert_one(session, param, text.strip(), platform)
        except GrammarError as exc:
            raise CommandError(str(exc), usage=command.usage) from None
    return values


def _what(param: Param) -> str:
    noun = "The " + param.name.replace("_", " ")
    return f"{noun} ({param.shape()})" if param.kind is not Kind.TEXT else noun


async def _convert_one(session: AsyncSession, param: Param, text: str, platform: str) -> Any:
    kind = param.kind
    if kind is Kind.TEXT:
        if param.max_length is not None and len(text) > param.max_length:
            raise CommandError(
                f"The {param.name} is {len(text)} characters long; the most is {param.max_length}."
            )
        return text
    if kind is Kind.PERSON:
        return await lookup.find_person(session, text, platform)
    if kind is Kind.ORG:
        return await lookup.find_org(session, text)
    if kind is Kind.AREA:
        if too_long := lookup.name_too_long(text):
            raise CommandError(too_long[0].upper() + too_long[1:] + ".")
        if param.allow_new:
            return await lookup.find_area(session, text) or lookup.clean_name(text)
        return await lookup.require_area(session, text)
    if kind is Kind.DURATION:
        return parse_duration(text)
    if kind is Kind.DATE:
        return parse_date(text)
    if kind is Kind.QUARTER:
        return parse_quarter(text)
    if kind is Kind.CHOICE:
        if text.lower() not in param.choices:
            expected = ", ".join(param.choices)
            raise GrammarError(f"{text!r} is not a valid {param.name}: expected one of {expected}.")
        return text.lower()
    if kind is Kind.INT:
        return _number(text)
    if kind is Kind.REVIEW:
        return await lookup.find_review(session, _number(text, "a review number"))
    if kind is Kind.POLICY:
        return await lookup.find_policy(session, text)
    if kind is Kind.WEEKDAY:
        return parse_weekday(text)
    if kind is Kind.TIME:
        return parse_clock_time(text)
    if kind is Kind.TIMEZONE:
        return parse_timezone(text)
    if kind is Kind.CHANNEL:
        return await lookup.find_channel(session, text)
    if kind is Kind.AGENDA_ITEM:
        return await lookup.find_agenda_item(session, _number(text, "an agenda item number"))
    if kind is Kind.AGENDA_ITEMS:
        return [_number(t, "an agenda item number") for t in text.split(",") if t.strip()]
    if kind is Kind.ACTION:
        return await lookup.find_action(session, _number(text, "an action item number"))
    if kind is Kind.ROADMAP_ITEM:
        return await lookup.find_roadmap_item(session, _number(text, "a roadmap item number"))
    if kind is Kind.URL:
        parsed = urlsplit(text)
        if parsed.scheme not in ("http", "https") or not parsed.netloc or " " in text:
            raise GrammarError(
                f"{text!r} is not a link: expected an http(s) URL, e.g. https://github.com/org/repo/pull/12."
            )
        if len(text) > 500:
            raise GrammarError("A link is at most 500 characters long.")
        return text
    raise AssertionError(f"unhandled parameter kind {kind}")


def _number(text: str, what: str = "a number") -> int:
    try:
        return int(text.lstrip("#"))
    except ValueError:
        raise GrammarError(f"{text!r} is not {what}: expected e.g. 12.") from None
