"""The console as a platform: what it shows for a notification with a picture."""

from __future__ import annotations

import io
from pathlib import Path

from bot.console import Console
from bot.delivery import Destination
from commands.core.messages import Image, Message, line
from tests.harness import Chat

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))


def test_a_picture_survives_the_outbox_form() -> None:
    message = Message(title="Digest", lines=(line("x"),), image=Image("c.png", PNG, "Chart"))
    assert Message.from_dict(message.to_dict()) == message
    assert "image" not in Message(title="plain").to_dict()


async def test_the_console_saves_a_picture_and_shows_its_path(chat: Chat, tmp_path: Path) -> None:
    out = io.StringIO()
    console = Console(chat.runtime, "alice", out=out, files=tmp_path / "files")
    message = Message(title="Weekly digest", image=Image("../evil/chart.png", PNG, "SLA chart"))
    await console.send(Destination("shared", None, "#shared"), message, late=False)
    saved = tmp_path / "files" / "chart.png"
    assert saved.read_bytes() == PNG
    assert f"SLA chart: {saved}" in out.getvalue()


class ClosingPipe(io.StringIO):
    """An output whose reader goes away after `lines` writes, as `head` does."""

    def __init__(self, lines: int) -> None:
        super().__init__()
        self.lines = lines

    def write(self, text: str) -> int:
        if self.lines <= 0:
            raise BrokenPipeError(32, "Broken pipe")
        self.lines -= 1
        return super().write(text)


async def test_the_console_stops_reading_once_its_output_is_closed(chat: Chat) -> None:
    out = ClosingPipe(lines=2)
    console = Console(chat.runtime, "alice", out=out)
    commands = io.StringIO('/whoami\n/dri set "Smart contract review" @bob\n/whoami\n')
    assert await console.run(commands) == 1
    assert out.getvalue().startswith("> /whoami\nYou are @alice")
    # The line whose echo met the closed pipe was not run, nor anything after it.
    assert [e.kind for e in console.transcript] == ["reply"]
