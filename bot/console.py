"""The local console: a chat in the terminal against the same commands and database.

It is a real adapter: notifications reach it through the outbox like any platform, including
scheduled ones that arrive while it waits for input.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import tempfile
import textwrap
import threading
from collections.abc import Callable
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
        # Pictures (the digest's chart) are saved here and shown as a path; by default in a
        # directory made for this process on the first picture (see _saved_image).
        self.files = files
        self._interactive = False
        self._sent = 0
        # Set when whoever reads the output has gone (`liaison console | head -1`).
        self.closed = False
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
        if self.closed:
            # Nobody reads the output any more: the message is dropped, as a closed terminal
            # drops it, rather than retried and logged for every notification still due.
            return f"console:{self._sent}"
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
        """Save a message's picture as a file; the line that points at it, or says why not."""
        if message.image is None:
            return ""
        alt = clean(message.image.alt) or "Picture"
        try:
            if self.files is None:
                # Our own directory (mode 0700), not a shared /tmp/liaison: that one may belong
                # to another user, who could also read or replace what is written there.
                self.files = Path(tempfile.mkdtemp(prefix="liaison-"))
            self.files.mkdir(parents=True, exist_ok=True)
            path = self.files / Path(message.image.filename).name
            path.write_bytes(message.image.data)
        except OSError as exc:
            # The text is what matters; a picture that cannot be saved is said, not fatal.
            return f"\n{alt}: not saved ({exc.strerror or exc}: {exc.filename or self.files})"
        return f"\n{alt}: {path}"

    def _show(self, prefix: str, text: str) -> None:
        body = textwrap.indent(text, " " * len(prefix)).lstrip(" ") if "\n" in text else text
        lead = "\n" if self._interactive else ""
        self._write(f"{lead}{prefix}{body}\n" + (PROMPT if self._interactive else ""))

    def _write(self, text: str) -> None:
        """Print to the output; once its reader has gone, note it and print nothing more."""
        if self.closed:
            return
        try:
            self.out.write(text)
            self.out.flush()
        except BrokenPipeError:
            self.closed = True
            _silence(self.out)

    # --- the reading side -----------------------------------------------------------------------

    async def run(self, stdin: TextIO | None = None) -> int:
        """Run commands line by line until end of input; return the exit status.

        It is 1 if the output was closed before the end (as for any `liaison` command whose
        reader goes away), else 0.
        """
        stdin = stdin or sys.stdin
        self._interactive = stdin.isatty() and self.out.isatty()
        if self._interactive:
            _load_history()
        await self.runtime.start()
        try:
            await self.runtime.worker.drain()
            while not self.closed and (text := await self._read(stdin)) is not None:
                text = text.strip()
                if not text or text.startswith("#"):
                    continue
                if text.lstrip("/").lower() in ("quit", "exit"):
                    break
                await self.say(text)
        except asyncio.CancelledError:
            # Ctrl-C (asyncio.run cancels this task): end the prompt's line before the shell's.
            if self._interactive:
                self._write("\n")
            raise
        finally:
            if self._interactive:
                _save_history()
        return 1 if self.closed else 0

    async def say(self, text: str) -> None:
        """Run one command line: print the reply, then every notification it caused."""
        if not self._interactive:
            self._write(f"> {text}\n")
        if self.closed:
            return
        reply = await self.runtime.dispatcher.run_text(
            text, Caller(PLATFORM, self.handle, self.handle)
        )
        text = render(reply.message) + self._saved_image(reply.message)
        self.transcript.append(Entry("reply", text, ok=reply.ok))
        self._write(text + "\n")
        await self.runtime.worker.drain()

    async def _read(self, stdin: TextIO) -> str | None:
        if self._interactive:
            try:
                return await _in_daemon_thread(lambda: input(PROMPT))
            except EOFError:
                self._write("\n")
                return None
        text = await _in_daemon_thread(stdin.readline)
        return text if text else None


async def _in_daemon_thread(read: Callable[[], str]) -> str:
    """Wait for a blocking read in a daemon thread.

    Not asyncio.to_thread: asyncio.run joins that pool's threads when it ends, so Ctrl-C at the
    prompt was swallowed until Enter. A daemon thread still blocked on the terminal is left
    behind, and the process ends at once.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[str] = loop.create_future()

    def settle(text: str | None, error: BaseException | None) -> None:
        if future.done():
            return  # cancelled (Ctrl-C) while the line was being typed
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(text or "")

    def work() -> None:
        text, error = None, None
        try:
            text = read()
        except BaseException as exc:  # EOFError above all; handed to the waiting task
            error = exc
        # RuntimeError: the loop has closed, and nobody waits for this line any more.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(settle, text, error)

    threading.Thread(target=work, name="console-input", daemon=True).start()
    return await future


def _silence(out: TextIO) -> None:
    """Point a closed output at /dev/null, so nothing fails again when Python flushes it at exit."""
    try:
        fd = out.fileno()
    except (OSError, ValueError):
        return  # not a file (a test's StringIO): nothing is flushed at exit
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, fd)
    os.close(null)


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
