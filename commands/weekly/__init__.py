"""The weekly sync: the meeting series, its agenda, decisions and action items, and the jobs
that post the agenda and chase the actions.

Other features read it through `series`, `posting` and `chase`; the handlers (`meetings`,
`agenda`, `decisions`, `actions`) are reached only through `groups()`.
"""

from __future__ import annotations

from commands.core.registry import Group


def groups() -> list[Group]:
    """The /meeting, /agenda, /decision and /action command groups, in help order."""
    from commands.weekly import actions, agenda, decisions, meetings

    return [meetings.meeting, agenda.agenda, decisions.decision, actions.action]
