"""Delivery to Discord: safe mentions and limits on every send and edit; failures kept right."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.config import Settings
from bot.discord.adapter import DiscordAdapter
from bot.platforms import PlatformError
from bot.runtime import open_runtime
from commands.core.clock import FakeClock
from commands.core.messages import Field, Image, Message, PersonRef, bold, line, mention
from storage import outbox
from storage.models import Delivery, DeliveryStatus, Person
from tests.bot.discord.conftest import SHARED, USERS, Discord, shown
from tests.bot.discord.fake_api import FakeDiscord
from tests.mention_corpus import MENTION_INJECTIONS

CHANNEL = f"channels/{SHARED}/messages"
DAVE = PersonRef(4, "dave", "Dave", (("discord", str(USERS["dave"])),))


async def _post(bot: Discord, key: str, message: Message, **where: Any) -> None:
    async with bot.runtime.postbox.transaction(bot.runtime.clock.now()) as notifier:
        if "person" in where:
            to = await notifier.session.scalar(
                select(Person).where(Person.handle == where.pop("person"))
            )
        else:
            to = where.pop("channel", "shared")
        await notifier.notify(key, message, to=to, **where)
    await bot.drain()


async def _status(bot: Discord, key: str) -> tuple[DeliveryStatus, str | None]:
    async with bot.runtime.sessions() as session:
        status, _ = await outbox.ref_of(session, key, "discord")
        error = await session.scalar(
            select(Delivery.error).where(Delivery.status == status).order_by(Delivery.id.desc())
        )
        return status, error


def _injected(text: str) -> Message:
    return Message(
        title=text,
        lines=(line(text), line(bold(text), " for ", mention(DAVE))),
        fields=(Field(text, line(text)),),
        footer=text,
    )


_PINGS = re.compile(r"@everyone|@here|<@&|<#|<@!|<@(\d+)>|<!")


def _assert_safe(call_json: dict[str, Any], allowed: list[int]) -> None:
    """Only `allowed` users can be pinged, and nothing else even looks like a mention."""
    assert call_json["allowed_mentions"] == {"parse": [], "users": allowed}
    assert (call_json.get("content") or "") == " ".join(f"<@{u}>" for u in allowed)
    for embed in call_json["embeds"]:
        texts = [embed.get("title", ""), embed.get("description", ""), embed["footer"]["text"]]
        texts += [t for f in embed.get("fields", []) for t in (f["name"], f["value"])]
        for text in texts:
            for found in _PINGS.finditer(text or ""):
                assert found[1] is not None and int(found[1]) in allowed, (found[0], text)


def _assert_within_limits(call_json: dict[str, Any]) -> None:
    assert len(call_json.get("content") or "") <= 2000
    assert len(call_json["embeds"]) <= 10
    total = 0
    for embed in call_json["embeds"]:
        fields = embed.get("fields", [])
        assert len(embed.get("title", "")) <= 256
        assert len(embed.get("description", "")) <= 4096
        assert len(fields) <= 25
        assert all(len(f["name"]) <= 256 and 0 < len(f["value"]) <= 1024 for f in fields)
        assert len(embed.get("footer", {}).get("text", "")) <= 2048
        total += len(embed.get("title", "")) + len(embed.get("description", ""))
        total += sum(len(f["name"]) + len(f["value"]) for f in fields)
        total += len(embed.get("footer", {}).get("text", ""))
    assert total <= 6000


@pytest.mark.parametrize("text", MENTION_INJECTIONS)
async def test_injected_mentions_ping_nobody_on_send_and_on_edit(bot: Discord, text: str) -> None:
    await _post(bot, "m", _injected(text))
    await _post(bot, "m2", _injected(text + " (edited)"), edit_of="m")
    [sent] = bot.api.called("POST", CHANNEL)
    [edited] = bot.api.called("PATCH", CHANNEL + r"/\d+")
    for call in (sent, edited):
        _assert_safe(call.json, [USERS["dave"]])
    # Shown as typed: the escapes are invisible.
    assert shown(sent.json["embeds"][0]["title"]) == text.replace("\u200b", "")[:256]


async def test_over_long_text_is_split_into_pages_on_send_and_shortened_on_edit(
    bot: Discord,
) -> None:
    long = Message(
        title="T" * 1000,
        lines=tuple(line(f"line {n} " + "x" * 90, mention(DAVE)) for n in range(300)),
        fields=tuple(Field(f"F{n}" * 200, line("v" * 3000)) for n in range(40)),
        footer="f" * 3000,
    )
    await _post(bot, "long", long)
    await _post(bot, "long2", long, edit_of="long")
    posts = bot.api.called("POST", CHANNEL)
    [edit] = bot.api.called("PATCH", CHANNEL + r"/\d+")
    assert len(posts) > 5, "30,000 characters of lines need several messages"
    for call in [*posts, edit]:
        _assert_within_limits(call.json)
    # Only the first page pings; the edit pings the same person, and nobody else.
    assert posts[0].json["content"] == f"<@{USERS['dave']}>"
    assert all(p.json["allowed_mentions"]["users"] == [] for p in posts[1:])
    assert edit.json["allowed_mentions"] == {"parse": [], "users": [USERS["dave"]]}
    assert "too long to show in full" in edit.json["embeds"][0]["description"]
    # Nothing is lost on send: every line reaches some page.
    text = "\n".join(e.get("description", "") for p in posts for e in p.json["embeds"])
    assert all(f"line {n} " in text for n in range(300))


async def test_a_direct_message_opens_the_dm_channel_and_is_delivered(bot: Discord) -> None:
    await _post(bot, "dm", Message(title="Yours", lines=(line("hello"),)), person="dave")
    [opened] = bot.api.called("POST", "users/@me/channels")
    assert opened.json == {"recipient_id": USERS["dave"]}
    [sent] = [c for c in bot.api.calls if c.method == "POST" and c.path.endswith("/messages")]
    assert sent.json["embeds"][0]["title"] == "Yours"
    assert (await _status(bot, "dm"))[0] is DeliveryStatus.DELIVERED


async def test_a_picture_is_uploaded_and_shown_in_the_embed(bot: Discord) -> None:
    png = b"\x89PNG\r\n\x1a\nfake"
    await _post(bot, "chart", Message(title="Digest", image=Image("chart.png", png, "SLA chart")))
    [sent] = bot.api.called("POST", CHANNEL)
    assert sent.files == [("chart.png", png)]
    assert sent.json["embeds"][0]["image"]["url"] == "attachment://chart.png"


async def test_a_short_rate_limit_is_waited_out_and_sent_exactly_once(bot: Discord) -> None:
    bot.api.fail("POST", CHANNEL, 429, retry_after=0.05, message="You are being rate limited.")
    await _post(bot, "r", Message(title="once"))
    assert len(bot.api.called("POST", CHANNEL)) == 2
    assert len([k for k in bot.api.messages if k.startswith(f"{SHARED}:")]) == 1
    assert (await _status(bot, "r"))[0] is DeliveryStatus.DELIVERED


async def test_a_long_rate_limit_goes_back_to_the_outbox_then_is_sent_once(
    bot: Discord, clock: FakeClock
) -> None:
    bot.api.fail("POST", CHANNEL, 429, retry_after=60, message="You are being rate limited.")
    await _post(bot, "r", Message(title="later"))
    status, error = await _status(bot, "r")
    assert status is DeliveryStatus.PENDING and "rate limit" in (error or "")
    clock.advance(timedelta(seconds=30))
    await bot.drain()
    assert len(bot.api.called("POST", CHANNEL)) == 1, "not before Discord's retry_after"
    clock.advance(timedelta(seconds=31))
    await bot.drain()
    await bot.drain()
    assert len(bot.api.called("POST", CHANNEL)) == 2
    assert len([k for k in bot.api.messages if k.startswith(f"{SHARED}:")]) == 1
    assert (await _status(bot, "r"))[0] is DeliveryStatus.DELIVERED


async def test_a_server_error_is_retried_by_discord_py_then_delivered_once(bot: Discord) -> None:
    bot.api.fail("POST", CHANNEL, 500, message="Internal Server Error")
    await _post(bot, "e", Message(title="once"))
    assert len(bot.api.called("POST", CHANNEL)) == 2
    assert (await _status(bot, "e"))[0] is DeliveryStatus.DELIVERED


async def test_an_unavailable_discord_is_retried_by_the_outbox_with_backoff(
    bot: Discord, clock: FakeClock
) -> None:
    bot.api.fail("POST", CHANNEL, 503, message="Service Unavailable")
    await _post(bot, "e", Message(title="once"))
    status, error = await _status(bot, "e")
    assert status is DeliveryStatus.PENDING and error == "Discord 503: Service Unavailable (code 0)"
    clock.advance(timedelta(seconds=5))
    await bot.drain()
    assert len(bot.api.called("POST", CHANNEL)) == 2
    assert (await _status(bot, "e"))[0] is DeliveryStatus.DELIVERED


@pytest.mark.parametrize(
    ("status", "code", "reason"),
    [(404, 10003, "Unknown Channel"), (403, 50001, "Missing Access")],
)
async def test_a_permanent_error_keeps_the_notification_failed_with_the_reason(
    bot: Discord, clock: FakeClock, status: int, code: int, reason: str
) -> None:
    bot.api.fail("POST", CHANNEL, status, code=code, message=reason, times=10)
    await _post(bot, "p", Message(title="never"))
    state, error = await _status(bot, "p")
    assert state is DeliveryStatus.FAILED
    assert error == f"Discord {status}: {reason} (code {code})"
    clock.advance(timedelta(hours=1))
    await bot.drain()
    assert len(bot.api.called("POST", CHANNEL)) == 1, "a permanent failure is not retried"


async def test_an_edit_of_a_deleted_message_posts_the_new_version(bot: Discord) -> None:
    await _post(bot, "c", Message(title="v1"))
    bot.api.fail("PATCH", CHANNEL + r"/\d+", 404, code=10008, message="Unknown Message")
    await _post(bot, "c2", Message(title="v2"), edit_of="c")
    posts = bot.api.called("POST", CHANNEL)
    assert [p.json["embeds"][0]["title"] for p in posts] == ["v1", "v2"]
    assert (await _status(bot, "c2"))[0] is DeliveryStatus.DELIVERED


async def test_a_refused_token_stops_start_up_with_what_to_fix(
    discord_settings: Settings, clock: FakeClock, fake: FakeDiscord
) -> None:
    fake.fail("GET", "users/@me", 401, code=0, message="401: Unauthorized")
    runtime = await open_runtime(discord_settings, platforms=["discord"], clock=clock)
    adapter = DiscordAdapter(runtime)
    try:
        with pytest.raises(PlatformError, match="Discord refused the bot token: check LIAISON_"):
            await adapter.start()
    finally:
        await adapter.stop()
        await runtime.close()


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ("html", "Discord answered 503 Service Unavailable (HTML)"),
        ("text", "Discord answered 503 Service Unavailable (text: upstream down)"),
        ("empty", "Discord answered 503 Service Unavailable (empty)"),
    ],
)
async def test_a_proxy_answer_is_named_for_what_it_is_and_retried(
    bot: Discord, body: str, named: str
) -> None:
    bot.api.fail("POST", CHANNEL, 503, message="upstream down", body=body)
    await _post(bot, "e", Message(title="once"))
    assert await _status(bot, "e") == (DeliveryStatus.PENDING, named)


async def test_start_up_waits_out_discord_answering_html(
    discord_settings: Settings,
    clock: FakeClock,
    fake: FakeDiscord,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake.fail("GET", "users/@me", 503, message="Service Unavailable", body="html", times=2)
    runtime = await open_runtime(discord_settings, platforms=["discord"], clock=clock)
    adapter = DiscordAdapter(runtime, start_backoff=0.01)
    try:
        with caplog.at_level(logging.WARNING):
            await adapter.login()
        retries = [r.getMessage() for r in caplog.records if "retrying in" in r.getMessage()]
        assert retries == [
            "discord: logging in: Discord answered 503 Service Unavailable (HTML); retrying in "
            + wait
            for wait in ("0.01s", "0.02s")
        ]
    finally:
        await adapter.client.close()
        await runtime.close()


async def test_a_message_whose_answer_was_lost_is_made_once_thanks_to_its_nonce(
    bot: Discord, clock: FakeClock
) -> None:
    bot.api.fail("POST", CHANNEL, 503, message="Service Unavailable", made=True)
    await _post(bot, "once", Message(title="once"))
    clock.advance(timedelta(seconds=5))
    await bot.drain()
    first, again = bot.api.called("POST", CHANNEL)
    assert first.json["nonce"] == again.json["nonce"] and again.json["enforce_nonce"] is True
    assert len([k for k in bot.api.messages if k.startswith(f"{SHARED}:")]) == 1
    assert (await _status(bot, "once"))[0] is DeliveryStatus.DELIVERED
