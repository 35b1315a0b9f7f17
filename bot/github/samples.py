"""Sample deliveries, signed as GitHub signs them, for trying a set-up end to end.

`liaison github test-delivery <event>` posts one to a running bot. The payloads have
GitHub's shape, trimmed to what Liaison reads; the repository is made up unless one is given,
so a sample moves no real review unless you point it at a repository a rule covers.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from typing import Any

import aiohttp

EVENTS = ("ping", "pull_request", "pull_request_review", "pull_request_review_comment")


def sample(event: str, repository: str, label: str, sender: str) -> dict[str, Any]:
    """A sample payload of `event` for pull request #1 of `repository`."""
    owner, _, name = repository.partition("/")
    user = {"login": sender, "id": 1, "type": "User"}
    repo = {
        "id": 1,
        "name": name,
        "full_name": repository,
        "owner": {"login": owner, "id": 2, "type": "Organization"},
        "html_url": f"https://github.com/{repository}",
        "private": False,
    }
    url = f"https://github.com/{repository}/pull/1"
    pull = {
        "number": 1,
        "html_url": url,
        "node_id": "PR_sample",
        "state": "open",
        "title": "Liaison test delivery",
        "user": user,
        "draft": False,
        "merged": False,
        "labels": [{"name": label}],
        "requested_reviewers": [],
        "requested_teams": [],
        "head": {"sha": "0" * 40, "ref": "liaison-test"},
        "base": {"ref": "main", "repo": repo},
    }
    common = {"repository": repo, "sender": user}
    if event == "ping":
        return {
            "zen": "Keep it logically awesome.",
            "hook_id": 1,
            "hook": {"type": "Repository"},
            **common,
        }
    if event == "pull_request":
        return {
            "action": "labeled",
            "number": 1,
            "pull_request": pull,
            "label": {"name": label},
            **common,
        }
    if event == "pull_request_review":
        review = {"id": 1, "user": user, "state": "commented", "body": "", "html_url": url}
        return {"action": "submitted", "review": review, "pull_request": pull, **common}
    if event == "pull_request_review_comment":
        comment = {"id": 1, "user": user, "body": "Sample comment", "html_url": url}
        return {"action": "created", "comment": comment, "pull_request": pull, **common}
    raise ValueError(f"no sample for {event!r} (samples: {', '.join(EVENTS)})")


async def deliver(url: str, event: str, payload: dict[str, Any], secret: str) -> tuple[int, str]:
    """POST a payload to a webhook URL, signed with `secret`; return the status and answer."""
    body = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/liaison-test",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": f"liaison-test-{uuid.uuid4()}",
        "X-Hub-Signature-256": signature,
    }
    timeout = aiohttp.ClientTimeout(total=15)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.post(url, data=body, headers=headers) as response,
    ):
        return response.status, (await response.text()).strip()
