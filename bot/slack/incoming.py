"""What Slack sends, read: command text, request keys, and modals built from a command's params."""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from commands.core.registry import Command, Kind, Param

CATCH_ALL = "/liaison"
MODAL_CALLBACK = "liaison_command"
# Slack escapes the text of a command: links as <https://...|label>, channels as <#C1|name>,
# broadcasts as <!here>, users as <@U1|name>. Users stay (commands resolve them to people);
# the rest become the plain text the user typed.
_LINK = re.compile(r"<((?:https?|mailto):[^|>]*)(?:\|([^>]*))?>")
_CHANNEL = re.compile(r"<#[A-Z0-9]+(?:\|([^>]*))?>")
_SPECIAL = re.compile(r"<!([a-z^A-Z0-9]+)(?:\|([^>]*))?>")


def command_line(command: str, text: str) -> str:
    """The command line a slash command means: `/review` + `ack 4` is `/review ack 4`."""
    text = plain_text(text).strip()
    if command == CATCH_ALL:
        return "/" + (text.lstrip("/") or "help")
    return f"{command} {text}".strip()


def plain_text(text: str) -> str:
    """Command text with Slack's escaping undone, except user mentions."""
    text = _LINK.sub(lambda m: m[1] if m[1].startswith("http") else (m[2] or m[1][7:]), text)
    text = _CHANNEL.sub(lambda m: "#" + (m[1] or "channel"), text)
    text = _SPECIAL.sub(lambda m: m[2] or "@" + m[1].split("^")[0], text)
    return html.unescape(text) if "&" in text else text


def request_key(kind: str, payload: Mapping[str, Any], body: str) -> str:
    """What identifies one user action across Slack's re-sends of it.

    A re-sent request repeats its payload: the trigger id for commands and button presses,
    the view id for a modal (a modal is submitted once). Without them, the body itself.
    """
    if kind == "view":
        view_id = (payload.get("view") or {}).get("id")
        if view_id:
            return f"slack:view:{view_id}"
    trigger = payload.get("trigger_id")
    if trigger:
        return f"slack:{kind}:{trigger}"
    return f"slack:{kind}:body:{hashlib.sha256(body.encode()).hexdigest()}"


def needs_modal(command: Command, rest: Sequence[str]) -> bool:
    """Whether a command typed with nothing after it should ask for its values in a modal."""
    return not rest and any(p.required for p in command.params)


def modal(
    command: Command,
    params: Sequence[Param],
    metadata: Mapping[str, Any],
    *,
    choices: Mapping[Kind, Sequence[str]],
) -> dict[str, Any]:
    """A modal with one input per parameter; its submission runs the command."""
    title = ("/" + command.name)[:24]
    return {
        "type": "modal",
        "callback_id": MODAL_CALLBACK,
        "private_metadata": json.dumps(dict(metadata)),
        "title": {"type": "plain_text", "text": title},
        "submit": {"type": "plain_text", "text": "Run"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {"type": "section", "text": {"type": "plain_text", "text": command.summary[:3000]}},
            *(_input(p, choices.get(p.kind, ())) for p in params),
        ],
    }


def _input(param: Param, known: Sequence[str]) -> dict[str, Any]:
    element: dict[str, Any]
    options = list(param.choices) or list(known)
    if param.kind is Kind.PERSON:
        element = {"type": "users_select"}
    elif param.kind is Kind.DATE:
        element = {"type": "datepicker"}
    elif options:
        element = {
            "type": "static_select",
            "options": [
                {"text": {"type": "plain_text", "text": o[:75]}, "value": o} for o in options[:100]
            ],
        }
    else:
        element = {"type": "plain_text_input"}
        if param.max_length:
            element["max_length"] = param.max_length
            element["multiline"] = param.max_length > 200
    element["action_id"] = "value"
    label = param.name.replace("_", " ").capitalize()
    return {
        "type": "input",
        "block_id": param.name,
        "optional": not param.required,
        "label": {"type": "plain_text", "text": label[:2000]},
        "hint": {"type": "plain_text", "text": param.help[:2000]},
        "element": element,
    }


def submitted(view: Mapping[str, Any]) -> dict[str, str]:
    """The values typed or picked in a modal, by parameter name, as raw command arguments."""
    raw: dict[str, str] = {}
    for name, actions in (view.get("state") or {}).get("values", {}).items():
        state = actions.get("value") or {}
        value: str | None
        if state.get("type") == "users_select":
            user = state.get("selected_user")
            value = f"<@{user}>" if user else None
        elif state.get("type") == "datepicker":
            value = state.get("selected_date")
        elif state.get("type") == "static_select":
            value = (state.get("selected_option") or {}).get("value")
        else:
            value = state.get("value")
        if value:
            raw[name] = value
    return raw
