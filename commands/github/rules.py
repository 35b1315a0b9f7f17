"""Which pull requests become review requests: the [[github.rules]], first match wins."""

from __future__ import annotations

from fnmatch import fnmatchcase

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from commands.github.pulls import PLATFORM, Pull
from storage.models import GithubRule, Person


async def load(session: AsyncSession) -> list[GithubRule]:
    """Every rule, in the configuration's order."""
    return list((await session.scalars(select(GithubRule).order_by(GithubRule.position))).all())


def login_of(person: Person | None) -> str | None:
    """A person's GitHub login, in lower case, if they have one."""
    if person is None:
        return None
    return next((i.user_id for i in person.identities if i.platform == PLATFORM), None)


def matches(rule: GithubRule, pull: Pull) -> bool:
    """Whether the rule covers this pull request as it stands now."""
    if not fnmatchcase(pull.ref.key, rule.repository.lower()):
        return False
    if rule.label is not None and rule.label.lower() not in pull.labels:
        return False
    if rule.team is not None and rule.team.lower() not in pull.teams:
        return False
    # A person alone is a criterion (a review asked of them); beside a label or team, it only
    # names who reviews by default.
    if rule.label is None and rule.team is None and rule.person is not None:
        return login_of(rule.person) in pull.requested
    return True


def first_match(rules: list[GithubRule], pull: Pull) -> GithubRule | None:
    """The rule that applies to a pull request, or None."""
    return next((r for r in rules if matches(r, pull)), None)


def describe(rule: GithubRule) -> str:
    """A rule in one line: "SetProtocol/* with label needs-ic-review → ic, smart-contract"."""
    parts = [rule.repository]
    if rule.label:
        parts.append(f"with label {rule.label}")
    if rule.team:
        parts.append(f"review asked of team {rule.team}")
    if rule.person and rule.label is None and rule.team is None:
        parts.append(f"review asked of @{rule.person.handle}")
    policy = rule.policy.name if rule.policy else "the default policy"
    default = (
        f", reviewer @{rule.person.handle}" if rule.person and (rule.label or rule.team) else ""
    )
    return " ".join(parts) + f" → {rule.org.key}, {policy}{default}"
