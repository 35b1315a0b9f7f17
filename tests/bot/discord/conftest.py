"""The Discord adapter against a fake Discord API, driven by real interaction payloads.

Interactions are delivered the way the gateway delivers them: the payload goes to the client's
ConnectionState (`parse_interaction_create`), which builds a real `discord.Interaction` and runs
it through the command tree or the DynamicItem templates. Tests then read what reached the fake
API.
"""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import AsyncIterator
from typing import Any

import discord
import pytest
from discord import app_commands
from pydantic import SecretStr

from bot.config import DiscordSettings, Settings
from bot.discord import DiscordAdapter
from bot.runtime import Runtime, open_runtime
from commands.core.clock import FakeClock
from tests.bot.discord.fake_api import APP_ID, FakeDiscord

GUILD = 300000000000000001
SHARED = 200000000000000001
USERS = {
    "alice": 100000000000000001,
    "bob": 100000000000000002,
    "carol": 100000000000000003,
    "dave": 100000000000000004,
    "erin": 100000000000000005,
}
STRANGER = 100000000000000099


def shown(text: str) -> str:
    """Markdown as a reader sees it: backslash escapes and zero-width spaces are invisible."""
    return re.sub(r"\\(.)", r"\1", text).replace("\u200b", "")


def user_payload(name: str, uid: int | None = None) -> dict[str, Any]:
    """A Discord user object."""
    uid = uid if uid is not None else USERS[name]
    return {
        "id": str(uid),
        "username": name,
        "discriminator": "0",
        "global_name": name.title(),
        "avatar": None,
    }


def _member(name: str, uid: int | None = None) -> dict[str, Any]:
    return {
        "user": user_payload(name, uid),
        "roles": [],
        "joined_at": "2025-01-01T00:00:00+00:00",
        "deaf": False,
        "mute": False,
        "flags": 0,
        "permissions": "0",
    }


@pytest.fixture
def discord_settings(settings: Settings) -> Settings:
    """The demo configuration with Discord ids for everyone and the shared channel."""
    people = [p.model_copy(update={"discord": str(USERS[p.handle])}) for p in settings.people]
    channels = [settings.channels[0].model_copy(update={"discord": str(SHARED)})]
    return settings.model_copy(
        update={
            "people": people,
            "channels": channels,
            "discord": DiscordSettings(token=SecretStr("test-token"), guild=GUILD),
        }
    )


@pytest.fixture
async def fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeDiscord]:
    """The fake Discord API, with discord.py pointed at it."""
    api = FakeDiscord()
    await api.start()
    monkeypatch.setattr(discord.http.Route, "BASE", api.base)
    try:
        yield api
    finally:
        await api.close()


def interaction(
    api: FakeDiscord, kind: int, name: str, token: str, uid: int | None = None
) -> dict[str, Any]:
    """An interaction of `kind` from a person in the shared channel, without its data."""
    return {
        "id": api.new_id(),
        "application_id": str(APP_ID),
        "type": kind,
        "token": token,
        "version": 1,
        "guild_id": str(GUILD),
        "channel_id": str(SHARED),
        "channel": {
            "id": str(SHARED),
            "type": 0,
            "guild_id": str(GUILD),
            "name": "shared",
            "position": 0,
            "permission_overwrites": [],
            "nsfw": False,
        },
        "member": _member(name, uid),
        "app_permissions": "0",
        "locale": "en-US",
        "guild_locale": "en-US",
        "entitlements": [],
        "authorizing_integration_owners": {"0": str(GUILD)},
        "context": 0,
        "attachment_size_limit": 10485760,
    }


class Discord:
    """The bot on Discord: deliver interactions as the gateway would, read the fake API."""

    def __init__(self, runtime: Runtime, adapter: DiscordAdapter, api: FakeDiscord) -> None:
        self.runtime = runtime
        self.adapter = adapter
        self.api = api
        self._ids = itertools.count(1)

    # --- building payloads ----------------------------------------------------------------------

    def _base(self, kind: int, name: str, uid: int | None) -> dict[str, Any]:
        return interaction(self.api, kind, name, f"token-{next(self._ids)}", uid)

    def command_payload(
        self,
        as_: str,
        path: str,
        options: dict[str, Any],
        *,
        uid: int | None = None,
        focused: str | None = None,
    ) -> dict[str, Any]:
        """An application-command (or autocomplete, with `focused`) interaction for `/path`."""
        words = path.split()
        found = self.adapter.tree.get_command(words[0])
        assert found is not None, f"no /{words[0]} in the tree"
        command: Any = found
        for word in words[1:]:
            assert isinstance(command, app_commands.Group)
            command = command.get_command(word)
            assert command is not None, f"no /{path} in the tree"
        resolved: dict[str, Any] = {}
        opts = []
        for name, value in options.items():
            param = next((p for p in command.parameters if p.display_name == name), None)
            assert param is not None, f"/{path} has no option {name}"
            opt: dict[str, Any] = {"name": name, "type": param.type.value}
            if param.type is discord.AppCommandOptionType.user:
                person = str(USERS.get(value, value))
                resolved.setdefault("users", {})[person] = user_payload(str(value), int(person))
                resolved.setdefault("members", {})[person] = {
                    k: v for k, v in _member(str(value), int(person)).items() if k != "user"
                }
                opt["value"] = person
            else:
                opt["value"] = value
            if name == focused:
                opt["focused"] = True
            opts.append(opt)
        data: dict[str, Any] = {"id": self.api.new_id(), "name": words[0], "type": 1}
        if len(words) == 2:
            data["options"] = [{"name": words[1], "type": 1, "options": opts}]
        else:
            data["options"] = opts
        if resolved:
            data["resolved"] = resolved
        payload = self._base(4 if focused else 2, as_, uid)
        payload["data"] = data
        return payload

    def component_payload(
        self, as_: str, custom_id: str, ref: str, *, picked: str | None = None
    ) -> dict[str, Any]:
        """A button press (or, with `picked`, a user-select choice) on message `ref`."""
        message = self.api.messages[ref]
        payload = self._base(3, as_, None)
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": 2}
        if picked is not None:
            uid = str(USERS[picked])
            data = {
                "custom_id": custom_id,
                "component_type": 5,
                "values": [uid],
                "resolved": {"users": {uid: user_payload(picked)}},
            }
        payload["data"] = data
        payload["message"] = message
        return payload

    # --- delivering -----------------------------------------------------------------------------

    async def deliver(self, payload: dict[str, Any]) -> None:
        """Hand an interaction to the client as the gateway does; wait until it is handled."""
        state = self.adapter.client._connection
        state.parse_interaction_create(payload)  # type: ignore[arg-type]
        while pending := [
            t
            for t in asyncio.all_tasks()
            if not t.done() and t.get_name().startswith(("CommandTree", "discord-ui"))
        ]:
            await asyncio.wait(pending)

    async def run(self, as_: str, path: str, uid: int | None = None, **options: Any) -> str:
        """Run `/path` with options as a person; return the reply's text (description)."""
        start = len(self.api.calls)
        await self.deliver(self.command_payload(as_, path, options, uid=uid))
        return self.reply_text(start)

    async def complete(
        self, as_: str, path: str, option: str, typed: str, **others: Any
    ) -> list[dict[str, Any]]:
        """The autocomplete choices offered while `typed` is typed into `option` of `/path`."""
        start = len(self.api.calls)
        await self.deliver(
            self.command_payload(as_, path, {**others, option: typed}, focused=option)
        )
        [call] = self.callbacks(start)
        assert call.json["type"] == 8, call.json
        return list(call.json["data"]["choices"])

    async def press(self, as_: str, custom_id: str, ref: str, *, picked: str | None = None) -> str:
        """Press a button on message `ref` as a person; return the reply's text."""
        start = len(self.api.calls)
        await self.deliver(self.component_payload(as_, custom_id, ref, picked=picked))
        return self.reply_text(start)

    def last_reply(self) -> str:
        """The reference of the newest reply shown to someone (e.g. one holding a picker)."""
        return [k for k in self.api.messages if k.startswith("reply:")][-1]

    def callbacks(self, start: int = 0) -> list[Any]:
        """Interaction callbacks and follow-ups since call `start`."""
        return [
            c
            for c in self.api.calls[start:]
            if c.path.startswith("interactions/") or c.path.startswith("webhooks/")
        ]

    def reply_text(self, start: int) -> str:
        """The text of every reply message since call `start`, title and description."""
        out = []
        for call in self.callbacks(start):
            data = call.json.get("data", call.json) if call.json else {}
            for embed in (data or {}).get("embeds", []):
                out.extend(x for x in (embed.get("title"), embed.get("description")) if x)
                out.extend(f"{f['name']}: {f['value']}" for f in embed.get("fields", []))
            if data and data.get("content"):
                out.append(data["content"])
        return shown("\n".join(out))

    async def drain(self) -> None:
        """Deliver everything due in the outbox."""
        await self.runtime.worker.drain()


@pytest.fixture
async def bot(
    discord_settings: Settings, clock: FakeClock, fake: FakeDiscord
) -> AsyncIterator[Discord]:
    """Liaison on Discord only, logged in to the fake API (no gateway)."""
    runtime = await open_runtime(discord_settings, platforms=["discord"], clock=clock)
    # The fake clock stands still: no pacing between messages to one channel.
    adapter = DiscordAdapter(runtime, pace=0.0)
    runtime.worker.senders.append(adapter)
    try:
        await adapter.login()
        yield Discord(runtime, adapter, fake)
    finally:
        await adapter.client.close()
        await runtime.close()
