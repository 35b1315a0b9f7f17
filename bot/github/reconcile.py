"""Reconciliation: read every followed open pull request back from GitHub, apply what was missed.

Webhooks get lost (a deploy, a network blip, GitHub's own incidents). With `[github] token`
set, this reads each open pull request and its reviews through the REST API and applies any
step the review missed, marked "found by reconciliation". It runs at start, on the
`[github] reconcile_every` grid, and soon after a review starts following a pull request.

Conditional requests keep it cheap: the ETags of the last reads are stored with the pull
request (so they survive restarts and are shared by replicas), and GitHub does not count a
304 against the rate limit. A 403 or 429 with `Retry-After`, or an exhausted rate limit,
stops the pass; nothing is asked of GitHub again until the time it gave.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import gidgethub
from gidgethub.aiohttp import GitHubAPI
from sqlalchemy import select

from bot.jobs import Schedule
from bot.runtime import Runtime
from commands.github import events
from storage.models import GithubPull

log = logging.getLogger(__name__)

JOB_ID = "github-reconcile"
USER_AGENT = "liaison (review SLAs; https://github.com/)"
# Below this many requests left, the pass stops until the limit resets: webhooks and people's
# own use of the token keep the rest.
_RESERVE = 50


class RateLimited(Exception):  # a state, not a failure
    """GitHub asked us to wait until `until`."""

    def __init__(self, until: datetime) -> None:
        super().__init__(until.isoformat())
        self.until = until


class Reconciler:
    """Reads followed pull requests back from GitHub and applies what the webhook missed."""

    def __init__(self, runtime: Runtime, *, timeout: float = 10.0) -> None:
        token = runtime.settings.github.token
        if token is None:
            raise ValueError("reconciliation needs a token: set LIAISON_GITHUB_TOKEN")
        self.runtime = runtime
        self._token = token.get_secret_value()
        self._base = runtime.settings.github.api_base_url
        self._timeout = timeout
        # Nothing is asked of GitHub before this instant (its Retry-After or rate-limit reset).
        self.resume_at: datetime | None = None
        self._lock = asyncio.Lock()

    def register(self) -> None:
        """Run on the [github] reconcile_every grid, and whenever a review starts following."""
        every = self.runtime.settings.github.reconcile_every
        minutes = max(1, int(every.total_seconds() // 60))
        if minutes < 60:
            schedule = Schedule("UTC", hour="*", minute=f"*/{minutes}")
        else:
            schedule = Schedule("UTC", hour=f"*/{min(23, minutes // 60)}", minute="0")

        async def run(_at: datetime) -> None:
            await self.run()

        def soon() -> None:
            self.runtime.tasks.spawn(self.run(), name="github.reconcile")

        self.runtime.jobs.register(JOB_ID, schedule, run)
        self.runtime.on_github = soon

    async def run(self) -> list[str]:
        """One pass over every followed open pull request; return what changed."""
        async with self._lock:
            now = self.runtime.clock.now()
            if self.resume_at is not None and now < self.resume_at:
                log.info("github: reconciliation waits until %s", self.resume_at.isoformat())
                return []
            self.resume_at = None
            async with self.runtime.sessions() as session:
                ids = [row.id for row in await _open_pulls(session)]
            done: list[str] = []
            timeout = aiohttp.ClientTimeout(total=self._timeout)
            # gidgethub's ETag cache, seeded before each read from the ETags we stored.
            cache: dict[str, Any] = {}
            async with aiohttp.ClientSession(timeout=timeout) as http:
                api = GitHubAPI(
                    http, USER_AGENT, oauth_token=self._token, base_url=self._base, cache=cache
                )
                for row_id in ids:
                    try:
                        done += await self._one(api, cache, row_id)
                    except RateLimited as exc:
                        self.resume_at = exc.until
                        log.warning(
                            "github: rate limited; reconciliation resumes at %s",
                            exc.until.isoformat(),
                        )
                        break
                    except (gidgethub.HTTPException, aiohttp.ClientError, TimeoutError) as exc:
                        log.warning("github: reading pull request %d failed: %r", row_id, exc)
            if done:
                log.warning("github: reconciliation found %s", "; ".join(done))
            return done

    async def _one(self, api: GitHubAPI, cache: dict[str, Any], row_id: int) -> list[str]:
        async with self.runtime.sessions() as session:
            row = await session.get(GithubPull, row_id)
            if row is None:
                return []
            path = f"/repos/{row.repository}/pulls/{row.number}"
            etags = (row.etag, row.reviews_etag)
        pull, pull_etag = await self._get(api, cache, path, etags[0])
        reviews, reviews_etag = await self._get(
            api, cache, f"{path}/reviews?per_page=100", etags[1]
        )
        runtime = self.runtime
        async with runtime.postbox.transaction(runtime.clock.now()) as notifier:
            # Locked like a webhook's row: the two never apply the same step twice.
            row = await notifier.session.scalar(
                select(GithubPull).where(GithubPull.id == row_id).with_for_update(of=GithubPull)
            )
            if row is None or not events.is_followed(row):
                return []
            done = await events.reconcile(notifier, row, pull, reviews or [])
            row.etag, row.reviews_etag = pull_etag, reviews_etag
            row.checked_at = notifier.now
        return done

    async def _get(
        self, api: GitHubAPI, cache: dict[str, Any], path: str, etag: str | None
    ) -> tuple[Any, str | None]:
        """GET with If-None-Match: (None, etag) when unchanged, else (data, its new ETag)."""
        url = self._base + path
        cache.clear()
        if etag:
            # A cached entry without data: a 304 then returns None, which means "unchanged".
            cache[url] = (etag, None, None, None)
        try:
            data = await api.getitem(path)
        except gidgethub.BadRequest as exc:
            self._check_limit(exc.headers or {}, status=int(exc.status_code))
            raise
        self._check_limit({}, status=200, api=api)
        fresh = cache.get(url)
        return data, (fresh[0] if fresh else etag)

    def _check_limit(
        self, headers: Mapping[str, str], *, status: int, api: GitHubAPI | None = None
    ) -> None:
        now = self.runtime.clock.now()
        retry_after = headers.get("retry-after")
        if status in (403, 429) and retry_after and retry_after.isdigit():
            raise RateLimited(now + timedelta(seconds=int(retry_after)))
        limit = gidgethub.sansio.RateLimit.from_http(headers) if headers else None
        if limit is None and api is not None:
            limit = api.rate_limit
        if limit is not None and limit.remaining < (1 if status in (403, 429) else _RESERVE):
            raise RateLimited(max(now, limit.reset_datetime.astimezone(UTC)))


async def _open_pulls(session: Any) -> list[GithubPull]:
    rows = await session.scalars(
        select(GithubPull).where(GithubPull.state == "open").order_by(GithubPull.id)
    )
    return [r for r in rows.unique().all() if events.is_followed(r)]
