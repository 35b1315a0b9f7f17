"""The Discord renderer: a neutral `Message` as embeds, within every limit Discord enforces.

User text is escaped here, in one place: Markdown is escaped and every `@` and `<` gets a
zero-width space after it, so `@everyone`, `<@&role>`, `<#channel>` or a pasted `<@id>` is shown
as typed and never parsed. Real mentions are built only from `Mention(PersonRef)` spans with a
Discord id; the people they name are the only ones a send or edit may ping (`allowed`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote

import discord

from commands.core.messages import Field, Line, Link, Mention, Message, Span, Text, When

PLATFORM = "discord"

# Discord's limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits).
CONTENT = 2000
TITLE = 256
DESCRIPTION = 4096
FIELD_NAME = 256
FIELD_VALUE = 1024
FIELDS = 25
FOOTER = 2048
EMBED_TOTAL = 6000
BUTTON_LABEL = 80
ROW_BUTTONS = 5
ROWS = 5

COLOURS = {"info": 0x5865F2, "success": 0x57F287, "warning": 0xFEE75C, "error": 0xED4245}
ZWSP = "\u200b"
MORE = "…"
_MARK = 24


def escape(text: str) -> str:
    """User text as Discord shows it literally: no Markdown, no mentions, no links."""
    text = discord.utils.escape_markdown(text)
    return text.replace("@", "@" + ZWSP).replace("<", "<" + ZWSP)


def _code(text: str) -> str:
    # Backslashes show inside code spans, so only the backticks go; mentions are still broken.
    body = text.replace("`", "\u02cb").replace("@", "@" + ZWSP).replace("<", "<" + ZWSP)
    return f"`{body}`" if body else ""


def _url(url: str) -> str | None:
    """A link target safe inside `[label](url)`, or None if it is not an http(s) link."""
    if not url.startswith(("http://", "https://")):
        return None
    return quote(url, safe=":/?#[]@!$&'*+,;=%~-._")


def render_span(span: Span, users: dict[int, None]) -> str:
    """One span as Discord Markdown; a mention adds its user to `users`."""
    if isinstance(span, Text):
        if span.style == "code":
            return _code(span.text)
        body = escape(span.text)
        if not body.strip():
            return body
        return {"bold": f"**{body}**", "italic": f"*{body}*"}.get(span.style, body)
    if isinstance(span, Link):
        target = _url(span.url)
        label = escape(span.label) or escape(span.url)
        return f"[{label}]({target})" if target else f"{label} ({escape(span.url)})"
    if isinstance(span, Mention):
        uid = span.person.id_on(PLATFORM)
        if uid is not None and uid.isdigit():
            users[int(uid)] = None
            return f"<@{uid}>"
        return "@" + ZWSP + escape(span.person.handle)
    if isinstance(span, When):
        return timestamp(span)
    raise AssertionError(f"unknown span {span!r}")


# Discord's timestamp styles: each reader sees the instant in their own time zone.
_STYLES = {"datetime": "f", "date": "D", "time": "t"}


def timestamp(span: When) -> str:
    """An instant as Discord's `<t:unix:style>`."""
    return f"<t:{int(span.at.timestamp())}:{_STYLES[span.show]}>"


def render_line(spans: Line, users: dict[int, None]) -> str:
    """A line of spans as Discord Markdown."""
    return "".join(render_span(s, users) for s in spans)


def _clip(text: str, size: int) -> str:
    return text if len(text) <= size else text[: size - len(MORE)] + MORE


def _chunks(text: str, size: int) -> list[str]:
    """Split text into pieces of at most `size`, at a line break or space where there is one."""
    out: list[str] = []
    while len(text) > size:
        cut = text.rfind("\n", 0, size)
        if cut <= size // 2:
            cut = text.rfind(" ", 0, size)
        cut = cut if cut > size // 2 else size
        out.append(text[:cut])
        text = text[cut:].lstrip("\n")
    if text or not out:
        out.append(text)
    return out


@dataclass
class Page:
    """One Discord message's worth of a rendered message."""

    title: str = ""
    url: str | None = None
    description: str = ""
    fields: list[tuple[str, str, bool]] = field(default_factory=list)
    footer: str = ""

    def size(self) -> int:
        """Characters that count toward Discord's 6,000 per message."""
        return (
            len(self.title)
            + len(self.description)
            + sum(len(n) + len(v) for n, v, _ in self.fields)
            + len(self.footer)
        )


@dataclass(frozen=True)
class Rendered:
    """A message ready to send: pages of embeds, the pings, and the users allowed to be pinged."""

    embeds: tuple[discord.Embed, ...]
    users: tuple[int, ...]

    @property
    def content(self) -> str | None:
        """The pings, as message content: mentions inside embeds never notify anyone."""
        return " ".join(f"<@{u}>" for u in self.users) or None

    def allowed(self, *, ping: bool = True) -> discord.AllowedMentions:
        """Exactly the users this message means to ping: never everyone, here or roles."""
        users = [discord.Object(u) for u in self.users] if ping else []
        return discord.AllowedMentions(everyone=False, roles=False, users=users, replied_user=False)


def _field_value(f: Field, users: dict[int, None]) -> str:
    value = render_line(f.value, users)
    if f.due is not None:
        unix = int(f.due.timestamp())
        value = f"due <t:{unix}:f> (<t:{unix}:R>)"
    return value or ZWSP


def render(message: Message, *, single: bool = False) -> Rendered:
    """Embeds for a message: one per page, each within Discord's limits.

    `single` fits everything into one page (an edit replaces one message), shortening it if
    it must, so Discord never rejects it.
    """
    users: dict[int, None] = {}
    title = escape(message.title)
    url: str | None = None
    lines = list(message.lines)
    # A message whose first line is one link (a review card) links its title there instead.
    if lines and len(lines[0]) == 1 and isinstance(lines[0][0], Link):
        link = lines.pop(0)[0]
        assert isinstance(link, Link)
        url = _url(link.url)
        if url is not None:
            label = escape(link.label)
            title = f"{title} · {label}" if title else label
        else:
            lines.insert(0, (link,))
    body = "\n".join(render_line(ln, users) for ln in lines)
    fields: list[tuple[str, str, bool]] = []
    for f in message.fields:
        name = _clip(escape(f.name), FIELD_NAME) or ZWSP
        for n, part in enumerate(_chunks(_field_value(f, users), FIELD_VALUE)):
            fields.append(
                (name if n == 0 else _clip(f"{name} (cont.)", FIELD_NAME), part, f.inline)
            )
    footer = _clip(escape(message.footer), FOOTER)
    pages = _paginate(_clip(title, TITLE), url, _chunks(body, DESCRIPTION), fields, footer)
    if single and len(pages) > 1:
        pages = [_squeeze(pages)]
    colour = COLOURS.get(message.tone, COLOURS["info"])
    embeds = []
    for page in pages:
        embed = discord.Embed(
            title=page.title or None,
            url=page.url,
            description=page.description or None,
            colour=colour,
        )
        for name, value, inline in page.fields:
            embed.add_field(name=name, value=value, inline=inline)
        if page.footer:
            embed.set_footer(text=page.footer)
        embeds.append(embed)
    return Rendered(tuple(embeds), tuple(users)[: CONTENT // 23])


def _paginate(
    title: str,
    url: str | None,
    body: list[str],
    fields: list[tuple[str, str, bool]],
    footer: str,
) -> list[Page]:
    # Room is kept on every page for the footer and a "page n/m" mark.
    budget = EMBED_TOTAL - len(footer) - _MARK
    pages = [Page(title=title, url=url)]
    for chunk in body:
        page = pages[-1]
        joined = f"{page.description}\n{chunk}" if page.description else chunk
        if len(joined) > DESCRIPTION or page.size() - len(page.description) + len(joined) > budget:
            pages.append(Page(description=chunk))
        else:
            page.description = joined
    for name, value, inline in fields:
        page = pages[-1]
        if len(page.fields) >= FIELDS or page.size() + len(name) + len(value) > budget:
            page = Page()
            pages.append(page)
        page.fields.append((name, value, inline))
    pages[-1].footer = footer
    if len(pages) > 1:
        for n, page in enumerate(pages, start=1):
            mark = f"page {n}/{len(pages)}"
            kept = _clip(page.footer, FOOTER - _MARK)
            page.footer = f"{kept} · {mark}" if kept else mark
    return pages


def _squeeze(pages: list[Page]) -> Page:
    """The first page, with a note that the rest did not fit."""
    first = pages[0]
    note = f"\n{MORE} (too long to show in full)"
    first.footer = _clip(pages[-1].footer.rsplit(" · page", 1)[0], FOOTER)
    room = EMBED_TOTAL - first.size() + len(first.description) - len(note)
    first.description = first.description[: min(room, DESCRIPTION - len(note))] + note
    return first


def view_rows(count: int) -> list[int]:
    """The row of each of `count` buttons: five to a row, at most five rows."""
    return [n // ROW_BUTTONS for n in range(min(count, ROW_BUTTONS * ROWS))]
