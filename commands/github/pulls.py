"""A pull request as GitHub describes it, the review that follows it, and people by login."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from commands.core.dispatch import free_handle
from storage.models import GithubPull, Identity, Person, Review, Role

PLATFORM = "github"
_URL = re.compile(
    r"^https?://(?P<host>[^/]+)/(?P<owner>[A-Za-z0-9_.-]+)/(?P<name>[A-Za-z0-9_.-]+)"
    r"/pull/(?P<number>[0-9]+)(?:[/?#].*)?$"
)


@dataclass(frozen=True)
class PullRef:
    """Which pull request: "owner/name" and its number."""

    repository: str
    number: int

    @property
    def key(self) -> str:
        """How it is stored: the repository in lower case (GitHub ignores its case)."""
        return self.repository.lower()

    def __str__(self) -> str:
        return f"{self.repository}#{self.number}"


def parse_url(url: str) -> PullRef | None:
    """The pull request a link points at ("https://github.com/o/r/pull/12"), else None."""
    m = _URL.match(url.strip())
    if m is None:
        return None
    return PullRef(f"{m['owner']}/{m['name']}", int(m["number"]))


@dataclass(frozen=True)
class Pull:
    """The parts of GitHub's pull request object that move a review."""

    ref: PullRef
    title: str
    html_url: str
    node_id: str | None
    author: str
    head_sha: str | None
    # "open" or "closed"; `merged` says how it closed.
    state: str
    merged: bool
    merged_by: str | None
    draft: bool
    labels: frozenset[str]
    # Logins and "org/team-slug"s a review is requested from, in lower case.
    requested: tuple[str, ...]
    teams: frozenset[str]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Pull:
        """Read GitHub's pull request object (the same in webhooks and the REST API)."""
        base = data["base"]["repo"]
        owner = str(base["owner"]["login"])
        return cls(
            ref=PullRef(str(base["full_name"]), int(data["number"])),
            title=str(data.get("title") or ""),
            html_url=str(data["html_url"]),
            node_id=data.get("node_id"),
            author=str(data["user"]["login"]),
            head_sha=(data.get("head") or {}).get("sha"),
            state=str(data.get("state") or "open"),
            merged=bool(data.get("merged") or data.get("merged_at")),
            merged_by=((data.get("merged_by") or {}).get("login")),
            draft=bool(data.get("draft")),
            labels=frozenset(str(x["name"]).lower() for x in data.get("labels") or ()),
            requested=tuple(str(u["login"]).lower() for u in data.get("requested_reviewers") or ()),
            teams=frozenset(
                f"{owner}/{t['slug']}".lower() for t in data.get("requested_teams") or ()
            ),
        )


async def tracked(session: AsyncSession, ref: PullRef) -> GithubPull | None:
    """The link between this pull request and its review, if it has one.

    The row is locked until the transaction ends (on PostgreSQL), so two events about one
    pull request (a webhook and reconciliation, two replicas) take their turns.
    """
    return await session.scalar(
        select(GithubPull)
        .where(GithubPull.repository == ref.key, GithubPull.number == ref.number)
        .with_for_update(of=GithubPull)
    )


async def link(session: AsyncSession, review: Review, ref: PullRef, html_url: str) -> GithubPull:
    """Tie a review to a pull request (replacing any earlier tie of either)."""
    for old in (
        await session.scalars(
            select(GithubPull).where(
                (GithubPull.review_id == review.id)
                | ((GithubPull.repository == ref.key) & (GithubPull.number == ref.number))
            )
        )
    ).all():
        await session.delete(old)
    await session.flush()
    row = GithubPull(
        review_id=review.id,
        repository=ref.key,
        number=ref.number,
        html_url=html_url,
        state="open",
        draft=False,
        seen_reviews=[],
    )
    session.add(row)
    await session.flush()
    return row


async def person_for(session: AsyncSession, login: str, now: datetime) -> Person:
    """The person with this GitHub login; one is recorded (named by the login) if none is.

    Nobody GitHub names is dropped: an unknown author still asks for the review, under
    their login, until [[people]] says who they are.
    """
    found = await session.scalar(
        select(Person)
        .join(Identity)
        .where(Identity.platform == PLATFORM, Identity.user_id == login.lower())
        .options(selectinload(Person.identities))
    )
    if found is not None:
        return found
    person = Person(
        handle=await free_handle(session, login),
        name=login,
        role=Role.MEMBER,
        created_at=now,
        identities=[Identity(platform=PLATFORM, user_id=login.lower())],
    )
    session.add(person)
    await session.flush()
    return person


async def known_person(session: AsyncSession, login: str) -> Person | None:
    """The person with this GitHub login, without recording anyone."""
    return await session.scalar(
        select(Person)
        .join(Identity)
        .where(Identity.platform == PLATFORM, Identity.user_id == login.lower())
    )
