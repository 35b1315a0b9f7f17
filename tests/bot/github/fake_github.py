"""A fake GitHub REST API at the wire: pull requests and their reviews, ETags, rate limits.

`FakeGitHub` answers `GET /repos/{owner}/{repo}/pulls/{number}` and `.../reviews` with what a
test put in `pulls` and `reviews`, sends an ETag for each answer and a 304 when the request's
If-None-Match still matches, sends GitHub's rate-limit headers, and fails on demand with a 403
carrying Retry-After (GitHub's secondary rate limit). Every request is kept in `calls` as
(path, status) for the test to read.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TOKEN = "ghp-test-token"


@dataclass
class FakeGitHub:
    """GitHub's REST API, as far as reconciliation reads it."""

    pulls: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    reviews: dict[tuple[str, int], list[dict[str, Any]]] = field(default_factory=dict)
    calls: list[tuple[str, int]] = field(default_factory=list)
    remaining: int = 4999
    # Retry-After seconds for the next request, once.
    retry_after: int | None = None
    url: str = ""
    _runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Listen on a free port of 127.0.0.1."""
        app = web.Application()
        app.router.add_get("/repos/{owner}/{repo}/pulls/{number}", self._pull)
        app.router.add_get("/repos/{owner}/{repo}/pulls/{number}/reviews", self._reviews)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        """Stop answering."""
        if self._runner is not None:
            await self._runner.cleanup()

    def statuses(self) -> list[int]:
        """The status of every answer so far, in order."""
        return [status for _, status in self.calls]

    async def _pull(self, request: web.Request) -> web.Response:
        key = self._key(request)
        return self._answer(request, self.pulls.get(key))

    async def _reviews(self, request: web.Request) -> web.Response:
        key = self._key(request)
        return self._answer(request, self.reviews.get(key, []) if key in self.pulls else None)

    def _key(self, request: web.Request) -> tuple[str, int]:
        info = request.match_info
        return (f"{info['owner']}/{info['repo']}".lower(), int(info["number"]))

    def _answer(self, request: web.Request, data: Any) -> web.Response:
        path = request.path
        limits = {
            "X-RateLimit-Limit": "5000",
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": "1893456000",
            "X-RateLimit-Resource": "core",
        }
        if request.headers.get("Authorization") != f"token {TOKEN}":
            self.calls.append((path, 401))
            return web.json_response({"message": "Bad credentials"}, status=401, headers=limits)
        if self.retry_after is not None:
            after, self.retry_after = self.retry_after, None
            self.calls.append((path, 403))
            return web.json_response(
                {"message": "You have exceeded a secondary rate limit."},
                status=403,
                headers={**limits, "Retry-After": str(after)},
            )
        if data is None:
            self.calls.append((path, 404))
            return web.json_response({"message": "Not Found"}, status=404, headers=limits)
        body = json.dumps(data, sort_keys=True)
        etag = '"' + hashlib.sha256(body.encode()).hexdigest()[:32] + '"'
        if request.headers.get("If-None-Match") == etag:
            # GitHub does not count a 304 against the limit.
            self.calls.append((path, 304))
            return web.Response(status=304, headers={**limits, "ETag": etag})
        self.remaining -= 1
        limits["X-RateLimit-Remaining"] = str(self.remaining)
        self.calls.append((path, 200))
        return web.Response(
            text=body, content_type="application/json", headers={**limits, "ETag": etag}
        )
