"""Driving the bot as a user does: type a line in the console, read what it printed."""

from __future__ import annotations

from dataclasses import dataclass

from bot.console import Console
from bot.runtime import Runtime


@dataclass(frozen=True)
class Said:
    """What one command line produced: the reply, and the notifications it caused."""

    reply: str
    ok: bool
    notifications: list[tuple[str, str]]

    def notification(self, address: str = "#shared") -> str:
        """The only notification sent to `address`."""
        found = [text for to, text in self.notifications if to == address]
        assert len(found) == 1, f"expected one notification to {address}, got {self.notifications}"
        return found[0]


class Chat:
    """The bot with its console adapter, for tests."""

    def __init__(self, runtime: Runtime, console: Console) -> None:
        self.runtime = runtime
        self.console = console

    async def say(self, text: str, *, as_: str = "alice") -> Said:
        """Type a command line as a person; return the reply and what was delivered after it."""
        self.console.handle = as_
        start = len(self.console.transcript)
        await self.console.say(text)
        entries = self.console.transcript[start:]
        replies = [e for e in entries if e.kind == "reply"]
        assert len(replies) == 1, entries
        return Said(
            reply=replies[0].text,
            ok=replies[0].ok,
            notifications=[(e.address, e.text) for e in entries if e.kind != "reply"],
        )

    async def ok(self, text: str, *, as_: str = "alice") -> Said:
        """Like say(), but the command must succeed."""
        said = await self.say(text, as_=as_)
        assert said.ok, said.reply
        return said

    async def fails(self, text: str, *, as_: str = "alice") -> str:
        """Like say(), but the command must be refused; returns the answer."""
        said = await self.say(text, as_=as_)
        assert not said.ok, said.reply
        assert said.notifications == [], "a refused command must not notify anyone"
        assert "Traceback" not in said.reply
        return said.reply
