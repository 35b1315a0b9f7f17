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
