"""What GitHub's events do to reviews: a webhook delivery, or what reconciliation read back.

Each function runs inside the caller's transaction (its `Notifier`) and either moves a review
through `reviews/lifecycle.py` (the same steps a person's command takes) or raises `Ignored`
saying why nothing applies, so the caller writes nothing at all. Steps are guarded by the
review's state, so an event that arrives twice, late or out of order changes nothing twice.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

from commands.core.context import Context
from commands.core.messages import Message, code, line
from commands.core.notifier import Notifier
from commands.github import rules
from commands.github.pulls import PLATFORM, Pull, known_person, link, person_for, tracked
from commands.reviews import lifecycle
from commands.reviews.card import card_key
from commands.reviews.lifecycle import Via, in_org
from storage.models import GithubPull, Org, Person, Review, ReviewState

# The events that move reviews; any other is answered and ignored.
EVENTS = ("pull_request", "pull_request_review", "pull_request_review_comment")
_OPENING = ("opened", "reopened", "labeled", "review_requested", "ready_for_review")


class Ignored(Exception):  # a reason, not a failure
    """The event applies to no review; its text says why (for the log and the answer)."""


async def apply(notifier: Notifier, event: str, payload: dict[str, Any]) -> str:
    """Apply one webhook delivery; return what it did, in a few words."""
    if event == "pull_request":
        return await _pull_request(notifier, payload)
    if event == "pull_request_review":
        if payload.get("action") != "submitted":
            raise Ignored(f"review {payload.get('action')}: nothing to do")
        pull = Pull.from_json(payload["pull_request"])
        row, rv = await _open_review_of(notifier, pull)
        return await _reviewed(notifier, row, rv, payload["review"], reconciled=False)
    if event == "pull_request_review_comment":
        if payload.get("action") != "created":
            raise Ignored(f"review comment {payload.get('action')}: nothing to do")
        pull = Pull.from_json(payload["pull_request"])
        row, rv = await _open_review_of(notifier, pull)
        comment = payload["comment"]
        ctx = await _as(notifier, comment["user"]["login"])
        if rv.state is not ReviewState.REQUESTED or not in_org(ctx.actor, rv.reviewing_org_id):
            raise Ignored("a review comment that acknowledges nothing")
        await lifecycle.acknowledge(ctx, rv, Via("review comment", comment["html_url"]))
        return f"#{rv.id} acknowledged"
    raise Ignored(f"event {event!r} is not one Liaison acts on")


async def reconcile(
    notifier: Notifier,
    row: GithubPull,
    data: dict[str, Any] | None,
    reviews: Sequence[dict[str, Any]],
) -> list[str]:
    """Apply what GitHub's current state says and the review missed; return what changed.

    `data` is the pull request and `reviews` its reviews in order, as the REST API gives them;
    `data` is None when the pull request is unchanged since the last read (an ETag hit).
    """
    done: list[str] = []
    rv = row.review
    for review in reviews:
        if lifecycle.is_open(rv) and review.get("id") not in row.seen_reviews:
            # One review that changes nothing does not stop the others.
            with contextlib.suppress(Ignored):
                done.append(await _reviewed(notifier, row, rv, review, reconciled=True))
    if data is None:
        return done
    pull = Pull.from_json(data)
    if pull.title and pull.title[:200] != rv.title:
        author = await _as(notifier, pull.author)
        rv.title = pull.title[:200]
        await lifecycle.note(author, rv, "retitled", " titled it on GitHub")
        done.append(f"#{rv.id} retitled")
    if not lifecycle.is_open(rv) and pull.state == "open":
        return done
    found = Via("pull request", pull.html_url, reconciled=True)
    if pull.state == "closed" and row.state == "open":
        done.append(await _closed(notifier, row, rv, pull, found))
    elif pull.state == "open":
        author = await _as(notifier, pull.author)
        if pull.draft and rv.state is not ReviewState.PAUSED:
            await lifecycle.pause(author, rv, "turned back into a draft", found)
            done.append(f"#{rv.id} paused")
        elif not pull.draft and rv.state is ReviewState.PAUSED:
            await lifecycle.unpause(author, rv, "ready for review", found)
            done.append(f"#{rv.id} resumed")
        elif (
            rv.state is ReviewState.CHANGES_REQUESTED
            and pull.head_sha is not None
            and row.head_sha is not None
            and pull.head_sha != row.head_sha
        ):
            commits = Via("new commits", f"{pull.html_url}/commits", reconciled=True)
            await lifecycle.resume(author, rv, commits, text=" pushed new commits")
            done.append(f"#{rv.id} resumed")
    _remember(row, pull)
    return done


# --- pull_request --------------------------------------------------------------------------------


async def _pull_request(notifier: Notifier, payload: dict[str, Any]) -> str:
    action = str(payload.get("action"))
    pull = Pull.from_json(payload["pull_request"])
    session = notifier.session
    row = await tracked(session, pull.ref)
    rv = row.review if row is not None else None
    if action in _OPENING:
        if row is not None and rv is not None and lifecycle.is_open(rv):
            return await _moved_while_open(notifier, payload, row, rv, pull)
        return await _maybe_open(notifier, payload, row, pull)
    if row is None or rv is None:
        raise Ignored(f"{pull.ref} is not followed by any review")
    if action == "edited" and pull.title and pull.title[:200] != rv.title:
        rv.title = pull.title[:200]
        _remember(row, pull)
        return f"#{rv.id} retitled"
    if not lifecycle.is_open(rv) and action != "closed":
        raise Ignored(f"#{rv.id} is {rv.state.value}")
    ctx = await _as(notifier, payload["sender"]["login"])
    if action in ("unlabeled", "review_request_removed"):
        if rules.first_match(await rules.load(session), pull) is not None:
            raise Ignored(f"{pull.ref} still matches a rule")
        if action == "unlabeled":
            what, reason = "label", f"label {(payload.get('label') or {}).get('name')} removed"
        else:
            who = (payload.get("requested_reviewer") or {}).get("login") or (
                payload.get("requested_team") or {}
            ).get("slug")
            what, reason = "review request", f"review request for {who} removed"
        await lifecycle.cancel(ctx, rv, reason, Via(what, pull.html_url))
        _remember(row, pull)
        return f"#{rv.id} cancelled"
    if action == "synchronize":
        before = row.head_sha
        _remember(row, pull)
        if rv.state is not ReviewState.CHANGES_REQUESTED or before == pull.head_sha:
            return f"#{rv.id}: head moved"
        url = f"{pull.html_url}/commits/{pull.head_sha}"
        await lifecycle.resume(ctx, rv, Via("new commits", url), text=" pushed new commits")
        return f"#{rv.id} resumed"
    if action == "converted_to_draft":
        _remember(row, pull)
        if rv.state is ReviewState.PAUSED:
            raise Ignored(f"#{rv.id} is paused already")
        await lifecycle.pause(ctx, rv, "turned back into a draft", Via("draft", pull.html_url))
        return f"#{rv.id} paused"
    if action == "closed":
        if row.state != "open":
            raise Ignored(f"{pull.ref} is {row.state} already")
        how = "merged" if pull.merged else "closed"
        return await _closed(notifier, row, rv, pull, Via(how, pull.html_url))
    raise Ignored(f"pull request {action}: nothing to do")


async def _moved_while_open(
    notifier: Notifier, payload: dict[str, Any], row: GithubPull, rv: Review, pull: Pull
) -> str:
    action = payload["action"]
    ctx = await _as(notifier, payload["sender"]["login"])
    _remember(row, pull)
    if action == "review_requested" and rv.state is ReviewState.CHANGES_REQUESTED:
        via = Via("review re-requested", pull.html_url)
        await lifecycle.resume(ctx, rv, via, text=" asked for another review")
        return f"#{rv.id} resumed"
    if action == "ready_for_review" and rv.state is ReviewState.PAUSED:
        await lifecycle.unpause(ctx, rv, "ready for review", Via("ready", pull.html_url))
        return f"#{rv.id} resumed"
    raise Ignored(f"#{rv.id} is open already")


async def _maybe_open(
    notifier: Notifier, payload: dict[str, Any], row: GithubPull | None, pull: Pull
) -> str:
    session = notifier.session
    if pull.state != "open" or pull.draft:
        raise Ignored(f"{pull.ref} is {'a draft' if pull.draft else pull.state}")
    rule = rules.first_match(await rules.load(session), pull)
    if rule is None:
        raise Ignored(f"no rule matches {pull.ref}")
    via = Via(_why(payload), pull.html_url)
    if row is not None:
        # The review closed earlier (approved, or cancelled when the label went): a new cycle.
        ctx = await _as(notifier, payload["sender"]["login"])
        rv = row.review
        rv.title, rv.link = pull.title[:200] or rv.title, pull.html_url
        await lifecycle.reopen(ctx, rv, via)
        _remember(row, pull)
        row.state = "open"
        return f"#{rv.id} reopened"
    policy = rule.policy or await lifecycle.default_policy(session)
    if policy is None:
        raise Ignored("no SLA policy is configured")
    requested = (payload.get("requested_reviewer") or {}).get("login")
    reviewer = await _reviewer(notifier, rule.org_id, [requested, *pull.requested])
    reviewer = reviewer or rule.person or await lifecycle.area_dri(session, rule.org)
    ctx = await _as(notifier, pull.author)
    rv, _ = await lifecycle.open_review(
        ctx,
        link=pull.html_url,
        title=pull.title[:200] or str(pull.ref),
        org=rule.org,
        policy=policy,
        reviewer=reviewer,
        via=via,
    )
    row = await link(session, rv, pull.ref, pull.html_url)
    _remember(row, pull)
    await _name_strangers(ctx, rv, rule.org, [requested, *pull.requested])
    return f"#{rv.id} opened"


async def _name_strangers(ctx: Context, rv: Review, org: Org, logins: Sequence[str | None]) -> None:
    """Say in the card's thread who GitHub asked that Liaison cannot make the reviewer."""
    for login in dict.fromkeys(x.lower() for x in logins if x):
        person = await known_person(ctx.session, login)
        if person is not None and in_org(person, org.id):
            continue
        why = f"no one in {org.name} has that login" if person is None else f"not in {org.name}"
        await ctx.notify(
            f"review:{rv.id}:c{rv.cycle}:asked:{login}",
            Message(lines=(line("GitHub asked ", code(login), f" to review ({why})."),)),
            thread_of=card_key(rv.id),
        )


def _why(payload: dict[str, Any]) -> str:
    action = payload["action"]
    if action == "labeled":
        return f"label {(payload.get('label') or {}).get('name')}"
    if action == "review_requested":
        who = (payload.get("requested_reviewer") or {}).get("login") or (
            payload.get("requested_team") or {}
        ).get("slug")
        return f"review requested from {who}"
    return {"ready_for_review": "ready for review"}.get(action, f"pull request {action}")


async def _reviewer(notifier: Notifier, org_id: int, logins: Sequence[str | None]) -> Person | None:
    """The first person asked for a review who is known and in the reviewing org."""
    for login in logins:
        if login:
            person = await known_person(notifier.session, login)
            if person is not None and in_org(person, org_id):
                return person
    return None


async def _closed(notifier: Notifier, row: GithubPull, rv: Review, pull: Pull, via: Via) -> str:
    ctx = await _as(notifier, pull.merged_by or pull.author)
    _remember(row, pull)
    row.state = "merged" if pull.merged else "closed"
    if lifecycle.is_open(rv):
        how = "the pull request was merged" if pull.merged else "the pull request was closed"
        await lifecycle.cancel(ctx, rv, how, via)
        return f"#{rv.id} cancelled ({row.state})"
    text = " merged the pull request" if pull.merged else " closed the pull request"
    await lifecycle.note(ctx, rv, row.state, text, via)
    return f"#{rv.id} {row.state}"


# --- reviews -------------------------------------------------------------------------------------


async def _open_review_of(notifier: Notifier, pull: Pull) -> tuple[GithubPull, Review]:
    row = await tracked(notifier.session, pull.ref)
    if row is None:
        raise Ignored(f"{pull.ref} is not followed by any review")
    if not lifecycle.is_open(row.review):
        raise Ignored(f"#{row.review.id} is {row.review.state.value}")
    return row, row.review


async def _reviewed(
    notifier: Notifier, row: GithubPull, rv: Review, review: dict[str, Any], *, reconciled: bool
) -> str:
    """A review submitted on GitHub: acknowledged, changes requested, or approved."""
    review_id = review.get("id")
    if review_id in row.seen_reviews:
        raise Ignored(f"review {review_id} was applied already")
    # A new list, so the JSON column is seen to change.
    row.seen_reviews = [*row.seen_reviews, review_id]
    ctx = await _as(notifier, review["user"]["login"])
    if not in_org(ctx.actor, rv.reviewing_org_id) or ctx.actor.id == rv.requester_id:
        raise Ignored(f"{review['user']['login']} does not review for the org")
    state = str(review.get("state", "")).lower()
    via = Via("review", str(review.get("html_url") or row.html_url), reconciled)
    if state == "approved":
        await lifecycle.approve(ctx, rv, via)
        return f"#{rv.id} approved"
    waiting = (ReviewState.REQUESTED, ReviewState.ACKNOWLEDGED, ReviewState.IN_REVIEW)
    if state == "changes_requested" and rv.state in waiting:
        body = " ".join(str(review.get("body") or "").split())
        note = body[:200] + ("…" if len(body) > 200 else "") if body else None
        await lifecycle.request_changes(ctx, rv, note, via)
        return f"#{rv.id} changes requested"
    if rv.state is ReviewState.REQUESTED:
        await lifecycle.acknowledge(ctx, rv, via)
        return f"#{rv.id} acknowledged"
    raise Ignored(f"a {state} review changes nothing on #{rv.id}")


# --- helpers -------------------------------------------------------------------------------------


async def _as(notifier: Notifier, login: str) -> Context:
    """A context acting as the person with this GitHub login (recorded if unknown)."""
    actor = await person_for(notifier.session, login, notifier.now)
    return Context(notifier.session, actor, PLATFORM, notifier)


def _remember(row: GithubPull, pull: Pull) -> None:
    row.head_sha = pull.head_sha or row.head_sha
    row.draft = pull.draft
    row.html_url = pull.html_url
    row.node_id = pull.node_id or row.node_id


def is_followed(row: GithubPull) -> bool:
    """Whether reconciliation reads this pull request: its review is still open."""
    return lifecycle.is_open(row.review)
