"""The local console: a chat in the terminal against the same commands and database.

It is a real adapter: notifications reach it through the outbox like any platform, including
scheduled ones that arrive while it waits for input.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from bot.delivery import Destination, SendKey
from bot.plaintext import clean, render
from bot.runtime import Runtime
from commands.core.dispatch import Caller
from commands.core.messages import Message, PersonRef
from storage.models import Channel

PLATFORM = "console"
PROMPT = "liaison> "
HISTORY = Path.home() / ".liaison_history"


@dataclass(frozen=True)
class Entry:
    """One thing the console showed: a reply to a command, or a notification and where it went."""

    kind: str
    text: str
    address: str = ""
    ok: bool = True


class Console:
    """Reads command lines, prints replies and every notification delivered to it."""

    platform = PLATFORM
    # A terminal has no rate limit.
    pace = 0.0
    burst = 1

    def __init__(
        self,
        runtime: Runtime,
        handle: str,
        out: TextIO | None = None,
        files: Path | None = None,
    ) -> None:
        self.runtime = runtime
        self.handle = handle
        self.out = out or sys.stdout
        # Pictures (the digest's chart) are saved here and shown as a path.
        self.files = files or Path(tempfile.gettempdir()) / "liaison"
        self._interactive = False
        self._sent = 0
        self.transcript: list[Entry] = []

    # --- the sending side (bot.delivery.Sender) -------------------------------------------------

    def channel_address(self, channel: Channel) -> str | None:
        """Every logical channel exists in the console."""
        return "#" + channel.name

    def person_address(self, person: PersonRef) -> str | None:
        """Everyone can be written to in the console."""
        return "@" + person.handle

    async def send(
        self,
        to: Destination,
        message: Message,
        *,
        late: bool,
        thread: str | None = None,
        once: SendKey | None = None,
    ) -> str | None:
        """Print a notification, prefixed with where it went."""
        self._sent += 1
        text = render(message) + self._saved_image(message)
        self.transcript.append(Entry("thread" if thread else "notification", text, to.address))
        marks = ("(thread) " if thread else "") + ("(late) " if late else "")
        self._show(f"[{to.address}] {marks}", text)
        return f"console:{self._sent}"

    async def edit(self, ref: str, to: Destination, message: Message) -> str | None:
        """Print the new version of an earlier message."""
        text = render(message) + self._saved_image(message)
        self.transcript.append(Entry("edit", text, to.address))
        self._show(f"[{to.address}] (updated) ", text)
        return ref

    def _saved_image(self, message: Message) -> str:
        """Save a message's picture as a file; the line that points at it."""
        if message.image is None:
            return ""
        self.files.mkdir(parents=True, exist_ok=True)
        path = self.files / Path(message.image.filename).name
        path.write_bytes(message.image.data)
        return f"\n{clean(message.image.alt) or 'Picture'}: {path}"

    def _show(self, prefix: str, text: str) -> None:
        body = textwrap.indent(text, " " * len(prefix)).lstrip(" ") if "\n" in text else text
        lead = "\n" if self._interactive else ""
        self.out.write(f"{lead}{prefix}{body}\n")
        if self._interactive:
            self.out.write(PROMPT)
        self.out.flush()

    # --- the reading side -----------------------------------------------------------------------

    async def run(self, stdin: TextIO | None = None) -> int:
        """Run commands line by line until end of input; return the exit status."""
        stdin = stdin or sys.stdin
        self._interactive = stdin.isatty() and self.out.isatty()
        if self._interactive:
            _load_history()
        await self.runtime.start()
        try:
            await self.runtime.worker.drain()
            while (text := await self._read(stdin)) is not None:
                text = text.strip()
                if not text or text.startswith("#"):
                    continue
                if text.lstrip("/") in ("quit", "exit"):
                    break
                await self.say(text)
        finally:
            if self._interactive:
                _save_history()
        return 0

    async def say(self, text: str) -> None:
        """Run one command line: print the reply, then every notification it caused."""
        if not self._interactive:
            self.out.write(f"> {text}\n")
        reply = await self.runtime.dispatcher.run_text(
            text, Caller(PLATFORM, self.handle, self.handle)
        )
        text = render(reply.message) + self._saved_image(reply.message)
        self.transcript.append(Entry("reply", text, ok=reply.ok))
        self.out.write(text + "\n")
        self.out.flush()
        await self.runtime.worker.drain()

    async def _read(self, stdin: TextIO) -> str | None:
        if self._interactive:
            try:
                return await asyncio.to_thread(input, PROMPT)
            except EOFError:
                self.out.write("\n")
                return None
        text = await asyncio.to_thread(stdin.readline)
        return text if text else None


def _load_history() -> None:
    try:
        import readline

        readline.read_history_file(HISTORY)
    except (ImportError, OSError):
        pass


def _save_history() -> None:
    try:
        import readline

        readline.set_history_length(1000)
        readline.write_history_file(HISTORY)
    except (ImportError, OSError):
        pass
