"""Buttons whose whole state is their `custom_id`, so they keep working after a restart.

A card's button `review:ack:42` is a `DynamicItem`: discord.py matches any pressed component
against the template, with no view kept in memory. A press runs the command behind it through
the dispatcher, with the same permission checks as typing it. An action that needs a person
the id does not carry (Reassign) first shows a user picker, itself a `DynamicItem`.
"""

from __future__ import annotations

import re
from typing import Any, Protocol, cast

import discord

from commands.core.messages import Action, ActionId

# A picker's id is its action's id behind "pick:", so both templates share one definition.
PICK = rf"pick:{ActionId.PATTERN}"
_STYLES = {
    "primary": discord.ButtonStyle.primary,
    "secondary": discord.ButtonStyle.secondary,
    "danger": discord.ButtonStyle.danger,
}
LABEL = 80


class Presser(Protocol):
    """What a press is handed to: the running adapter."""

    async def press(
        self, interaction: discord.Interaction, action: ActionId, picked: int | None
    ) -> None:
        """Run the command behind a button (with the person picked, if any); answer the press."""
        ...


def _presser(interaction: discord.Interaction) -> Presser | None:
    return cast(Presser | None, getattr(interaction.client, "liaison", None))


def _action_of(match: re.Match[str]) -> ActionId:
    # The templates are built from ActionId.PATTERN, so a match holds its named parts.
    return ActionId.of(match)


async def _not_running(interaction: discord.Interaction) -> None:
    await interaction.response.send_message(
        "Liaison is not running here right now; try again in a minute.", ephemeral=True
    )


class ActionButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=ActionId.PATTERN):
    """A button that runs a command: `review:ack:42` is `/review ack 42`."""

    def __init__(self, action: ActionId, label: str = "", style: str = "secondary") -> None:
        super().__init__(
            discord.ui.Button(
                label=label[:LABEL] or str(action),
                style=_STYLES.get(style, discord.ButtonStyle.secondary),
                custom_id=str(action),
            )
        )
        self.action = action

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction,
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> ActionButton:
        """Rebuild the button from a press, whatever process sent it."""
        label = item.label if isinstance(item, discord.ui.Button) else None
        return cls(_action_of(match), label or "")

    async def callback(self, interaction: discord.Interaction) -> None:
        """Run the command behind the button."""
        presser = _presser(interaction)
        if presser is None:
            await _not_running(interaction)
            return
        await presser.press(interaction, self.action, None)


class PersonPicker(discord.ui.DynamicItem[discord.ui.UserSelect[Any]], template=PICK):
    """A user picker that completes an action needing a person: `pick:review:reassign:42`."""

    def __init__(self, action: ActionId, placeholder: str = "Choose a person") -> None:
        super().__init__(
            discord.ui.UserSelect(
                custom_id=f"pick:{action}", placeholder=placeholder[:150], max_values=1
            )
        )
        self.action = action

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction,
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> PersonPicker:
        """Rebuild the picker from a choice, whatever process sent it."""
        return cls(_action_of(match))

    async def callback(self, interaction: discord.Interaction) -> None:
        """Run the action with the chosen person."""
        presser = _presser(interaction)
        if presser is None:
            await _not_running(interaction)
            return
        chosen = self.item.values[0] if self.item.values else None
        await presser.press(interaction, self.action, chosen.id if chosen else None)


class Buttons(discord.ui.View):
    """Components answered by their `DynamicItem` templates alone.

    Not dispatchable, so discord.py keeps no copy in memory: a stored view would answer a
    press a second time, and would grow with every card ever sent.
    """

    def __init__(self) -> None:
        super().__init__(timeout=None)

    def is_dispatchable(self) -> bool:
        """Never: presses are routed by custom_id templates."""
        return False


def view_of(actions: tuple[Action, ...]) -> discord.ui.View | None:
    """The buttons of a message, five to a row; None when it has none."""
    if not actions:
        return None
    view = Buttons()
    for n, action in enumerate(actions[:25]):
        item = ActionButton(action.id, action.label, action.style)
        item.row = n // 5
        view.add_item(item)
    return view


def picker_view(action: ActionId, placeholder: str) -> discord.ui.View:
    """A view holding one person picker for an action."""
    view = Buttons()
    view.add_item(PersonPicker(action, placeholder))
    return view
