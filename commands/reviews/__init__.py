"""Code reviews one org owes the other: the SLA rules, the clocks, escalation, the card, /review
and /sla.

Other features read reviews through `card`, `queries`, `rules`, `clocks` and `compliance`; the
handlers are reached only through `groups()`.
"""

from __future__ import annotations

from commands.core.registry import Group


def groups() -> list[Group]:
    """The /review and /sla command groups."""
    from commands.reviews import handlers

    return [handlers.review, handlers.sla]
