"""The ownership map: areas, their DRIs, and hand-offs from one org to the other (/dri,
/handoff), and the map as a file.

Other features read the map through `map`; the handlers are reached only through `groups()`.
"""

from __future__ import annotations

from commands.core.registry import Group


def groups() -> list[Group]:
    """The /dri and /handoff command groups."""
    from commands.ownership import handlers

    return [handlers.dri, handlers.handoff]
