"""GitHub: the webhook receiver and the reconciliation that reads pull requests back.

The only room that imports gidgethub. `start(runtime)` turns on what the configuration asks
for: the webhook with `[github] webhook_secret`, reconciliation with `[github] token`.
"""

from __future__ import annotations

from bot.github.reconcile import Reconciler
from bot.github.webhook import WEBHOOK_PATH, GitHubReceiver
from bot.runtime import Runtime


async def start(runtime: Runtime) -> GitHubReceiver | None:
    """Start the webhook receiver when a secret is set, reconciliation when a token is."""
    if runtime.settings.github.token is not None:
        reconciler = Reconciler(runtime)
        reconciler.register()
        # Once at start: whatever happened while no replica was listening.
        runtime.tasks.spawn(reconciler.run(), name="github.reconcile")
    if runtime.settings.github.webhook_secret is None:
        return None
    receiver = GitHubReceiver(runtime)
    await receiver.start()
    return receiver


__all__ = ["WEBHOOK_PATH", "GitHubReceiver", "Reconciler", "start"]
