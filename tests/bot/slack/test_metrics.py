"""`GET /metrics` after a short run of the bot on Slack, scraped as Prometheus scrapes it.

Everything it must count is caused through the public seams: slash commands signed as Slack
sends them, the fake Slack failing, SLA stages falling due as the fake clock moves.
"""

from __future__ import annotations

from datetime import timedelta

from prometheus_client.parser import text_string_to_metric_families

from bot import health
from commands.core.clock import FakeClock
from tests.bot.slack.conftest import SlackBot
from tests.bot.test_health import get

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(page: str) -> Samples:
    """Every sample of a Prometheus page, by name and labels."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(page)
        for s in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float:
    """One sample's value; it must be exposed."""
    key = (name, frozenset(labels.items()))
    assert key in found, f"{name}{labels} is not exposed"
    return found[key]


async def test_metrics_expose_every_series_after_commands_deliveries_and_sla_stages(
    slack: SlackBot, clock: FakeClock
) -> None:
    port = await health.start(slack.runtime)
    await slack.ok(
        "/review", 'request https://github.com/org/repo/pull/7 "Fix the oracle" reviewer=@dave'
    )
    await slack.command("/review", "show 999")  # refused: there is no such review
    # Days pass with nobody acknowledging: the warning, the breach and escalations fire late.
    clock.advance(timedelta(days=10))
    await slack.runtime.deadlines.tick()
    await slack.settle()
    # A permanent Slack error, then a transient one that leaves a delivery pending.
    slack.fake.fail("chat.postMessage", "channel_not_found")
    await slack.ok("/dri", 'set "Smart contract review" @bob')
    slack.fake.fail("chat.postMessage", "500")
    await slack.ok("/dri", 'set "Oracle monitoring" @bob')
    clock.advance(timedelta(minutes=6))

    status, page = await get(port, "/metrics")
    assert status == 200
    found = samples(page)

    assert value(found, "liaison_commands_total", command="review request", outcome="done") == 1
    assert value(found, "liaison_commands_total", command="review show", outcome="refused") == 1
    assert value(found, "liaison_command_duration_seconds_count", command="review request") == 1
    assert value(found, "liaison_deliveries_total", platform="slack", outcome="delivered") >= 2
    assert value(found, "liaison_deliveries_total", platform="slack", outcome="failed") == 1
    assert value(found, "liaison_deliveries_total", platform="slack", outcome="retry") == 1
    assert (
        value(
            found, "liaison_platform_api_errors_total", platform="slack", code="channel_not_found"
        )
        == 1
    )
    assert value(found, "liaison_platform_api_errors_total", platform="slack", code="500") == 1
    assert value(found, "liaison_sla_stages_total", stage="warn", clock="ack") == 1
    assert value(found, "liaison_sla_stages_total", stage="breach", clock="ack") == 1
    assert value(found, "liaison_sla_breaches_total", clock="ack") == 1
    breaches = value(found, "liaison_sla_breaches_total", clock="resolve") + 1
    # Fired ten days after the review was asked for: every stage was days late.
    assert value(found, "liaison_sla_stage_lateness_seconds_count", stage="breach") == breaches
    assert (
        value(found, "liaison_sla_stage_lateness_seconds_bucket", stage="breach", le="86400.0") == 0
    )
    assert value(found, "liaison_outbox_pending", platform="slack") == 1
    # The DMs the late stages wrote wait for their recipients' working hours: held, not pending.
    assert value(found, "liaison_outbox_held", platform="slack") >= 0
    assert value(found, "liaison_outbox_failed", platform="slack") == 1
    assert value(found, "liaison_outbox_oldest_pending_age_seconds", platform="slack") == 360
    assert value(found, "liaison_discord_gateway_holder") == 0
    assert value(found, "liaison_database_up") == 1
    assert value(found, "process_resident_memory_bytes") > 0
