"""The weekly digest: composed from every feature's read API, charted, posted once a week.

The scheduled post is `compose.post_digest`; the handlers are reached only through `groups()`.
"""

from __future__ import annotations

from commands.core.registry import Group


def groups() -> list[Group]:
    """The /digest command group."""
    from commands.digest import handlers

    return [handlers.digest]
