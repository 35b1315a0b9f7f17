"""The one HTTP server of a process: Slack's events and GitHub's webhook share its port.

Whoever needs it (the Slack adapter in http mode, the GitHub receiver) adds a route and calls
`start()`; the first call listens, later ones only add their route. Routes are looked up per
request, so a part that starts after the server is listening still gets its path.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# GitHub caps a webhook payload at 25 MB; aiohttp's own cap (1 MiB) would refuse bigger ones
# before the receiver could answer them as GitHub's documentation describes.
MAX_BODY = 25 * 1024 * 1024


class HttpServer:
    """An aiohttp server on [http] host and port, serving the routes its users add."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.wanted_port = port
        self.port: int | None = None
        self._routes: dict[tuple[str, str], Handler] = {}
        self._runner: web.AppRunner | None = None

    def route(self, method: str, path: str, handler: Handler) -> None:
        """Serve `method path` with `handler` (replacing any earlier handler of it)."""
        self._routes[(method.upper(), path)] = handler

    async def start(self) -> int:
        """Listen, if not listening yet; return the port (the one chosen, for port 0)."""
        if self._runner is None:
            app = web.Application(client_max_size=MAX_BODY + 1)
            app.router.add_route("*", "/{path:.*}", self._dispatch)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, self.host, self.wanted_port)
            await site.start()
            self._runner = runner
            self.port = int(runner.addresses[0][1])
            paths = ", ".join(sorted({p for _, p in self._routes}))
            log.info("http: listening on http://%s:%d (%s)", self.host, self.port, paths)
        assert self.port is not None
        return self.port

    async def stop(self) -> None:
        """Stop listening (requests under way are finished first); safe to call twice."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        handler = self._routes.get((request.method, request.path))
        if handler is None:
            if any(path == request.path for _, path in self._routes):
                return web.Response(status=405)
            return web.Response(status=404)
        return await handler(request)
