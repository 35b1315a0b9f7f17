"""Platform-neutral messages: what handlers and notifications produce and renderers draw.

User-written text travels as plain `Text` spans and is escaped by each renderer, in one place;
people travel as `PersonRef`s, never as typed mention syntax, so only the bot can ping.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Literal
from zoneinfo import ZoneInfo

Style = Literal["plain", "bold", "italic", "code"]
Tone = Literal["info", "success", "warning", "error"]
ButtonStyle = Literal["primary", "secondary", "danger"]


@dataclass(frozen=True)
class PersonRef:
    """A person as a message refers to them, with their user id on each platform."""

    person_id: int
    handle: str
    name: str
    ids: tuple[tuple[str, str], ...] = ()

    def id_on(self, platform: str) -> str | None:
        """The person's user id on a platform, if they have one there."""
        return next((uid for p, uid in self.ids if p == platform), None)


@dataclass(frozen=True)
class Text:
    """A run of text, escaped by every renderer."""

    text: str
    style: Style = "plain"


@dataclass(frozen=True)
class Link:
    """A link with a label."""

    label: str
    url: str


@dataclass(frozen=True)
class Mention:
    """A reference to a person: a real mention where the platform knows them."""

    person: PersonRef


TimeShow = Literal["datetime", "date", "time"]


@dataclass(frozen=True)
class When:
    """An instant, shown to each reader in their own time zone where the platform can (Slack's
    `<!date^...>`, Discord's `<t:...>`); elsewhere on the wall clock of `zone`, the time zone of
    the person the message is for."""

    at: datetime
    zone: str = "UTC"
    show: TimeShow = "datetime"

    def text(self) -> str:
        """The instant as plain text on the wall clock of `zone`: "Mon 7 Dec 09:00 GMT"."""
        local = self.at.astimezone(ZoneInfo(self.zone))
        day = f"{local:%a} {local.day} {local:%b}"
        clock = f"{local:%H:%M %Z}"
        return {"date": day, "time": clock, "datetime": f"{day} {clock}"}[self.show]


Span = Text | Link | Mention | When
Line = tuple[Span, ...]


def line(*parts: str | Span) -> Line:
    """Build a line from strings (plain text) and spans."""
    return tuple(Text(p) if isinstance(p, str) else p for p in parts)


def count(n: int, noun: str) -> str:
    """A number with its noun, plural when it is not 1: "1 area", "3 areas"."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def quiet(spans: Line) -> Line:
    """The line with every mention written as a plain @handle, so it names without pinging."""
    return tuple(Text("@" + s.person.handle) if isinstance(s, Mention) else s for s in spans)


def bold(text: str) -> Text:
    """Bold text."""
    return Text(text, "bold")


def italic(text: str) -> Text:
    """Italic text."""
    return Text(text, "italic")


def code(text: str) -> Text:
    """Monospaced text, for commands and identifiers."""
    return Text(text, "code")


def mention(person: PersonRef) -> Mention:
    """A mention of a person."""
    return Mention(person)


@dataclass(frozen=True)
class Field:
    """A named value, shown as an embed field or a Block Kit field."""

    name: str
    value: Line
    inline: bool = True
    # The instant the value counts down to (a running SLA clock), for platforms that can show
    # a live countdown (Discord's <t:...:R>); the value's text still says it in words.
    due: datetime | None = None


_NAME = r"[a-z][a-z0-9_-]*"


@dataclass(frozen=True)
class ActionId:
    """A button's id, `group:verb:value[=arg]`: "review:ack:42" runs `/review ack 42`, and
    "review:snooze:42=1h" runs `/review snooze 42 1h` (the arg fills the second parameter).

    The arg follows "=", not ":", so that no id is another id behind a prefix (Discord's
    person picker is "pick:" and the id of the button that opened it)."""

    group: str
    verb: str
    value: str
    arg: str = ""

    # The wire form, written once: `parse` reads it, and platforms that route presses by
    # pattern (Discord's DynamicItem templates) use it as is. Named groups say which part is which.
    PATTERN: ClassVar[str] = (
        rf"(?P<group>{_NAME}):(?P<verb>{_NAME}):(?P<value>[0-9A-Za-z_.-]+)"
        r"(?:=(?P<arg>[0-9A-Za-z_.-]+))?"
    )

    def __post_init__(self) -> None:
        # Every id must survive the round trip through a platform, so a part that would not
        # parse back (a colon in the value, an empty verb) is refused when the button is made.
        if _ACTION_ID.fullmatch(str(self)) is None:
            raise ValueError(f"{str(self)!r} is not a button id (group:verb:value[=arg])")

    def __str__(self) -> str:
        """The wire form, as a platform stores and sends it back: "review:ack:42"."""
        return f"{self.group}:{self.verb}:{self.value}" + (f"={self.arg}" if self.arg else "")

    @classmethod
    def parse(cls, text: str) -> ActionId | None:
        """The id a platform sent back, or None when it is not one Liaison makes."""
        match = _ACTION_ID.fullmatch(text)
        return cls.of(match) if match else None

    @classmethod
    def of(cls, match: re.Match[str]) -> ActionId:
        """The id a match of `PATTERN` holds (Discord's templates hand over such a match)."""
        return cls(match["group"], match["verb"], match["value"], match["arg"] or "")

    @property
    def path(self) -> tuple[str, str]:
        """The command the button runs, as the registry names it: ("review", "ack")."""
        return (self.group, self.verb)


_ACTION_ID = re.compile(ActionId.PATTERN)


@dataclass(frozen=True)
class Action:
    """A button; its id is the whole state a press needs."""

    id: ActionId
    label: str
    style: ButtonStyle = "secondary"


@dataclass(frozen=True)
class Image:
    """A picture sent with a message (a PNG chart): uploaded where the platform allows it."""

    filename: str
    data: bytes
    alt: str


@dataclass(frozen=True)
class Message:
    """What the bot says: a title, lines, fields, buttons and a footer."""

    title: str = ""
    lines: tuple[Line, ...] = ()
    fields: tuple[Field, ...] = ()
    actions: tuple[Action, ...] = ()
    footer: str = ""
    tone: Tone = "info"
    image: Image | None = None

    def spans(self) -> Iterator[Span]:
        """Every span in the message, lines first, then field values."""
        for ln in self.lines:
            yield from ln
        for f in self.fields:
            yield from f.value

    def mentioned(self) -> list[PersonRef]:
        """The people this message mentions, once each, in order."""
        seen: dict[int, PersonRef] = {}
        for span in self.spans():
            if isinstance(span, Mention):
                seen.setdefault(span.person.person_id, span.person)
        return list(seen.values())

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form, as stored in the outbox."""
        return {
            "title": self.title,
            "lines": [[_span_to_dict(s) for s in ln] for ln in self.lines],
            "fields": [_field_to_dict(f) for f in self.fields],
            "actions": [
                {"id": str(a.id), "label": a.label, "style": a.style} for a in self.actions
            ],
            "footer": self.footer,
            "tone": self.tone,
            **({"image": _image_to_dict(self.image)} if self.image else {}),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Message:
        """Rebuild a message from its stored form."""
        return cls(
            title=data.get("title", ""),
            lines=tuple(tuple(_span_from_dict(s) for s in ln) for ln in data.get("lines", [])),
            fields=tuple(_field_from_dict(f) for f in data.get("fields", [])),
            actions=tuple(
                Action(action_id, a["label"], a.get("style", "secondary"))
                for a in data.get("actions", [])
                # A stored button whose id no longer parses could not be answered: it is dropped.
                if (action_id := ActionId.parse(a["id"])) is not None
            ),
            footer=data.get("footer", ""),
            tone=data.get("tone", "info"),
            image=_image_from_dict(data["image"]) if data.get("image") else None,
        )


@dataclass(frozen=True)
class Reply:
    """The answer to one command, shown to the caller; `ok` is False when it was refused."""

    message: Message
    ok: bool = True
    # Refused because of who asked (their role, or their relation to the subject).
    denied: bool = False


def _field_to_dict(f: Field) -> dict[str, Any]:
    out = {"name": f.name, "value": [_span_to_dict(s) for s in f.value], "inline": f.inline}
    if f.due is not None:
        out["due"] = f.due.isoformat()
    return out


def _field_from_dict(d: dict[str, Any]) -> Field:
    due = datetime.fromisoformat(d["due"]) if d.get("due") else None
    return Field(
        d["name"], tuple(_span_from_dict(s) for s in d["value"]), d.get("inline", True), due
    )


def _image_to_dict(image: Image) -> dict[str, Any]:
    return {
        "filename": image.filename,
        "data": base64.b64encode(image.data).decode("ascii"),
        "alt": image.alt,
    }


def _image_from_dict(d: dict[str, Any]) -> Image:
    return Image(d["filename"], base64.b64decode(d["data"]), d.get("alt", ""))


def _person_to_dict(p: PersonRef) -> dict[str, Any]:
    return {"id": p.person_id, "handle": p.handle, "name": p.name, "ids": [list(i) for i in p.ids]}


def _person_from_dict(d: dict[str, Any]) -> PersonRef:
    return PersonRef(d["id"], d["handle"], d["name"], tuple((p, u) for p, u in d.get("ids", [])))


def _span_to_dict(span: Span) -> dict[str, Any]:
    if isinstance(span, Text):
        return {"t": "text", "text": span.text, "style": span.style}
    if isinstance(span, Link):
        return {"t": "link", "label": span.label, "url": span.url}
    if isinstance(span, When):
        return {"t": "when", "at": span.at.isoformat(), "zone": span.zone, "show": span.show}
    return {"t": "mention", "person": _person_to_dict(span.person)}


def _span_from_dict(d: dict[str, Any]) -> Span:
    kind = d["t"]
    if kind == "text":
        return Text(d["text"], d.get("style", "plain"))
    if kind == "link":
        return Link(d["label"], d["url"])
    if kind == "mention":
        return Mention(_person_from_dict(d["person"]))
    if kind == "when":
        return When(
            datetime.fromisoformat(d["at"]), d.get("zone", "UTC"), d.get("show", "datetime")
        )
    raise ValueError(f"unknown span type {kind!r}")


def person_to_dict(p: PersonRef) -> dict[str, Any]:
    """A JSON-ready form of a person reference (for DM targets in the outbox)."""
    return _person_to_dict(p)


def person_from_dict(d: dict[str, Any]) -> PersonRef:
    """Rebuild a person reference from its stored form."""
    return _person_from_dict(d)
