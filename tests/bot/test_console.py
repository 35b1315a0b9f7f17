"""The console as a platform: what it shows for a notification with a picture."""

from __future__ import annotations

import io
import os
import stat
import tempfile
from pathlib import Path

import pytest

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


async def test_pictures_go_to_a_directory_of_our_own_not_a_shared_one(
    chat: Chat, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # TMPDIR names a directory another user owns, where a `liaison` directory already exists
    # (theirs). tempfile reads TMPDIR into tempfile.tempdir once, so that is set here instead.
    shared = tmp_path / "shared"
    (shared / "liaison").mkdir(parents=True)
    if os.getuid() == 0:
        for path in (shared, shared / "liaison"):
            os.chown(path, 65534, 65534)
    monkeypatch.setattr(tempfile, "tempdir", str(shared))
    out = io.StringIO()
    console = Console(chat.runtime, "alice", out=out)
    message = Message(title="Weekly digest", image=Image("chart.png", PNG, "SLA chart"))
    await console.send(Destination("shared", None, "#shared"), message, late=False)

    saved = out.getvalue().split("SLA chart: ")[1].split()[0]
    assert os.path.dirname(saved) != str(shared / "liaison")
    folder = os.stat(os.path.dirname(saved))
    assert folder.st_uid == os.getuid() and stat.S_IMODE(folder.st_mode) == 0o700
    with open(saved, "rb") as picture:  # noqa: ASYNC230 - a test reading a small file
        assert picture.read() == PNG


async def test_a_picture_that_cannot_be_saved_is_said_and_the_message_still_shown(
    chat: Chat, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    out = io.StringIO()
    console = Console(chat.runtime, "alice", out=out, files=blocker / "files")
    message = Message(title="Weekly digest", image=Image("chart.png", PNG, "SLA chart"))
    await console.send(Destination("shared", None, "#shared"), message, late=False)
    assert "Weekly digest" in out.getvalue()
    assert f"SLA chart: not saved (Not a directory: {blocker / 'files'})" in out.getvalue()


@pytest.mark.parametrize("word", ["QUIT", "Exit", "/quit"])
async def test_quit_or_exit_in_any_case_ends_the_console(chat: Chat, word: str) -> None:
    console = Console(chat.runtime, "alice", out=io.StringIO())
    assert await console.run(io.StringIO(f"/whoami\n{word}\n/whoami\n")) == 0
    assert [e.kind for e in console.transcript] == ["reply"]
