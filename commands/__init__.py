"""What the bot can do, platform-neutral: the command core and one package per feature.

`core/` runs any command; each feature package (`reviews`, `ownership`, `weekly`, `digest`)
holds its handlers, which nothing else imports, beside the read API other features use.
`docs/architecture.md` draws the rooms and the one-way arrows between them.
"""

from __future__ import annotations

from commands.core.registry import Registry


def build_registry() -> Registry:
    """Every command group of Liaison, in the order help lists them."""
    from commands import digest, github, help, ownership, people, reviews, roadmap, weekly

    registry = Registry(
        [
            *reviews.groups(),
            *ownership.groups(),
            *weekly.groups(),
            roadmap.roadmap,
            *digest.groups(),
            *github.groups(),
            people.people,
            people.whoami,
            people.me,
            people.away,
        ]
    )
    # Added last, so the help it gives is that of the finished registry, itself included.
    registry.add(help.help_group(registry))
    return registry
