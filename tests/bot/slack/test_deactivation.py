"""A Slack account deactivated (the `user_change` event): its person is gone, their areas
flagged and their backups told, once, whatever Slack re-sends."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from commands.core.clock import FakeClock
from tests.bot.slack.conftest import USERS, SlackBot, shown

# 10:00 in New York, inside alice's working hours: her DM is not held.
MONDAY = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)


def _user_change(user_id: str, *, deleted: bool) -> dict[str, Any]:
    """Slack's `user_change` event, as it sends it for any change to an account."""
    user = {"id": user_id, "team_id": "T1", "name": user_id.lower(), "deleted": deleted}
    return {"type": "user_change", "user": user, "event_ts": "1767625200.000100"}


def _lost(slack: SlackBot, channel: str) -> list[str]:
    return [
        shown(m)
        for (c, _), m in slack.fake.messages.items()
        if c == channel and "has lost its DRI" in shown(m)
    ]


async def test_a_deactivated_dri_has_their_area_flagged_and_their_backup_told_once(
    slack: SlackBot, clock: FakeClock
) -> None:
    clock.set(MONDAY)
    await slack.ok("/dri", 'set "Keeper bots" @bob backup=@alice')
    # A profile edit is not a departure.
    assert await slack.user.event(_user_change(USERS["bob"], deleted=False), "Ev0") == 200
    await slack.settle()
    assert "DRI left" not in await slack.ok("/dri", "list")

    gone = _user_change(USERS["bob"], deleted=True)
    assert await slack.user.event(gone, "Ev1") == 200
    await slack.settle()
    (told,) = _lost(slack, "DALICE")
    assert "the DRI of *Keeper bots* for `set`, was deactivated on Slack" in told
    assert "You stand in for the area" in told
    assert "(set) — <@UBOB> / backup <@UALICE>* · DRI left*" in await slack.ok("/dri", "list")
    history = await slack.ok("/dri", 'history "Keeper bots"')
    assert "*Slack*: the DRI is gone from the platform: <@UBOB>" in history

    # Slack re-sends the event (same id), and later sends another for the same account: the
    # area is flagged once, and the backup told once.
    assert await slack.user.event(gone, "Ev1", retry=1) == 200
    assert await slack.user.event(gone, "Ev2") == 200
    # Re-activated: nothing is cleared (the configuration says who is in).
    assert await slack.user.event(_user_change(USERS["bob"], deleted=False), "Ev3") == 200
    await slack.settle()
    assert len(_lost(slack, "DALICE")) == 1
    history = await slack.ok("/dri", 'history "Keeper bots"')
    assert history.count("gone from the platform") == 1
    assert "· DRI left" in await slack.ok("/dri", "list")


async def test_an_account_liaison_does_not_know_is_ignored(slack: SlackBot) -> None:
    assert await slack.user.event(_user_change("UNOBODY", deleted=True), "Ev9") == 200
    await slack.settle()
    assert not [m for m in slack.fake.messages.values() if "lost its DRI" in shown(m)]


async def test_the_events_url_answers_slacks_challenge(slack: SlackBot) -> None:
    # What Slack sends once the manifest subscribes to events in HTTP mode, before any event.
    body = json.dumps({"token": "legacy", "challenge": "c-123", "type": "url_verification"})
    status, text = await slack.user.exchange(body, content_type="application/json")
    assert (status, json.loads(text)) == (200, {"challenge": "c-123"})
