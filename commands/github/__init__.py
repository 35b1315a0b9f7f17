"""GitHub as the source of truth for review requests: rules, pull requests, events.

`pulls` reads a pull request as GitHub describes it, `rules` says which become reviews, and
`events` moves reviews when GitHub says something happened (a webhook delivery, or what
reconciliation read back). Nothing here speaks HTTP: `bot/github/` receives and fetches, then
calls `events`. The handlers (/github) are reached only through `groups()`.
"""

from __future__ import annotations

from commands.core.registry import Group


def groups() -> list[Group]:
    """The /github command group."""
    from commands.github import handlers

    return [handlers.github]
