"""What the bot can do, platform-neutral: command groups and the domain rules behind them."""

from __future__ import annotations

from commands.registry import Registry


def build_registry() -> Registry:
    """Every command group of Liaison, in the order help lists them."""
    from commands import (
        actions,
        agenda,
        compliance,
        digest,
        help,
        meetings,
        ownership,
        people,
        reviews,
        roadmap,
    )

    return Registry(
        [
            reviews.review,
            compliance.sla,
            ownership.dri,
            ownership.handoff,
            meetings.meeting,
            agenda.agenda,
            meetings.decision,
            actions.action,
            roadmap.roadmap,
            digest.digest,
            people.people,
            people.whoami,
            help.help_group,
        ]
    )
