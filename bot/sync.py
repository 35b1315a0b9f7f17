"""Bring the database in line with the configuration at start: orgs, people, channels, policies."""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot.config import PolicySettings, Settings
from commands.core.grammar import WrittenDuration
from commands.core.notifier import Notifier, Postbox
from commands.core.presence import day_start, zone_of
from commands.ownership.verify import LEFT_CONFIGURATION, mark_gone
from commands.reviews.rules import DEFAULT_DAY
from commands.weekly.series import SERIES_ID, realign
from storage import locks
from storage.models import (
    Away,
    Channel,
    ChannelAddress,
    ChecklistTemplate,
    GithubRule,
    HandoffRules,
    Identity,
    MeetingSeries,
    Org,
    Person,
    ReviewRules,
    SlaPolicy,
)

log = logging.getLogger(__name__)

# A replica that loses a start-up race tries again this many times before giving up.
TRIES = 5
# PostgreSQL's "try again" states: serialization failure, deadlock detected.
_RETRYABLE = {"40001", "40P01"}


async def apply_config(postbox: Postbox, settings: Settings, now: datetime) -> None:
    """Create or update what the configuration declares; never delete (history refers to it).

    People who left the configuration are marked as gone, and whoever stands in for their areas
    is told, in the same transaction (so exactly once). Replicas starting together apply it one
    at a time (an advisory lock on PostgreSQL; SQLite has one writer anyway), and one that
    still loses a race (a row another process inserted first) rolls back and applies it again,
    instead of stopping.
    """
    for attempt in range(1, TRIES + 1):
        try:
            await _apply(postbox, settings, now)
            return
        except DBAPIError as exc:
            if attempt == TRIES or not _lost_race(exc):
                raise
            log.warning("applying the configuration lost a race (%s); trying again", exc.orig)
            await asyncio.sleep(random.uniform(0.05, 0.2) * attempt)


def _lost_race(exc: DBAPIError) -> bool:
    """A unique key another process inserted first, or a deadlock/serialization failure."""
    return isinstance(exc, IntegrityError) or getattr(exc.orig, "sqlstate", None) in _RETRYABLE


async def _apply(postbox: Postbox, settings: Settings, now: datetime) -> None:
    async with postbox.transaction(now) as notifier:
        session = notifier.session
        await locks.one_at_a_time(session, locks.CONFIG)
        orgs = {o.key: o for o in (await session.scalars(select(Org))).all()}
        for cfg in settings.orgs:
            org = orgs.get(cfg.key) or Org(key=cfg.key)
            org.name, org.timezone = cfg.name, cfg.timezone
            org.business_hours, org.holidays = cfg.business_hours, cfg.holidays
            session.add(org)
            orgs[cfg.key] = org
        await session.flush()

        for cfg_person in settings.people:
            person = await session.scalar(
                select(Person)
                .where(Person.handle == cfg_person.handle)
                .options(selectinload(Person.identities))
            )
            if person is None:
                person = Person(handle=cfg_person.handle, created_at=now, identities=[])
                session.add(person)
            person.name = cfg_person.name
            person.org_id = orgs[cfg_person.org].id
            if not person.role_set_in_chat:
                person.role = cfg_person.role
            if not person.notify_set_in_chat:
                person.notify = cfg_person.notify
            if not person.hours_set_in_chat:
                person.timezone, person.hours = cfg_person.timezone, cfg_person.hours
            await session.flush()
            wanted = {"console": cfg_person.handle}
            if cfg_person.slack:
                wanted["slack"] = cfg_person.slack
            if cfg_person.discord:
                wanted["discord"] = cfg_person.discord
            if cfg_person.github:
                # GitHub logins ignore case; webhooks spell them as the user last chose.
                wanted["github"] = cfg_person.github.lower()
            await _link(session, person, wanted)

        await _apply_away(session, settings, now)

        channels = {c.name: c for c in (await session.scalars(select(Channel))).all()}
        for cfg_channel in settings.channels:
            channel = channels.get(cfg_channel.name)
            if channel is None:
                channel = Channel(name=cfg_channel.name, addresses=[])
                session.add(channel)
            _address(channel, {"slack": cfg_channel.slack, "discord": cfg_channel.discord})

        policies = {p.name: p for p in (await session.scalars(select(SlaPolicy))).all()}
        default = next((p.name for p in settings.policies if p.default), None)
        if default is None and settings.policies:
            default = settings.policies[0].name
        for cfg_policy in settings.policies:
            policy = policies.get(cfg_policy.name) or SlaPolicy(name=cfg_policy.name)
            _fill_policy(policy, cfg_policy, is_default=cfg_policy.name == default)
            policy.retired = False
            session.add(policy)
        configured = {p.name for p in settings.policies}
        for name, policy in policies.items():
            if name not in configured:
                policy.is_default, policy.retired = False, True
        await session.flush()
        await _apply_github_rules(session, settings, orgs)
        await _apply_meeting(session, settings, now)
        await _apply_checklists(session, settings)
        rules = await session.get(ReviewRules, 1) or ReviewRules(id=1)
        rules.nudge_every = str(settings.reviews.nudge_every)
        session.add(rules)

        await _mark_departures(notifier, settings)


async def _apply_away(session: AsyncSession, settings: Settings, now: datetime) -> None:
    # Planned leave from the file: its own rows only (time away set in chat is left alone);
    # an entry removed from the file is cancelled if it has not begun.
    people = {p.handle: p for p in (await session.scalars(select(Person))).unique().all()}
    existing = {
        (a.person_id, a.starts_at): a
        for a in (await session.scalars(select(Away).where(Away.source == "config"))).unique()
    }
    wanted = set()
    for cfg_person in settings.people:
        person = people[cfg_person.handle]
        zone = zone_of(person)
        for entry in cfg_person.away:
            starts = day_start(entry.start, zone)
            row = existing.get((person.id, starts))
            wanted.add((person.id, starts))
            if row is not None and (row.cancelled_at or row.returned_at):
                # Cancelled or ended early in chat: the file does not bring it back.
                continue
            if row is None:
                row = Away(
                    person_id=person.id,
                    starts_at=starts,
                    source="config",
                    created_at=now,
                    routed=[],
                )
                session.add(row)
            backup = people.get(entry.backup) if entry.backup else None
            row.ends_at = day_start(entry.until, zone)
            row.backup_id = backup.id if backup else None
            row.note = entry.note
    for key, row in existing.items():
        if key not in wanted and row.starts_at > now and row.cancelled_at is None:
            row.cancelled_at = now
    await session.flush()


async def _mark_departures(notifier: Notifier, settings: Settings) -> None:
    # Only people the configuration once placed in an org can leave it: someone the bot merely
    # met in chat (enrolled with no org) was never in it.
    configured = {p.handle for p in settings.people}
    people = await notifier.session.scalars(select(Person).where(Person.org_id.is_not(None)))
    for person in people.unique().all():
        if person.handle in configured:
            person.left_at = None
        elif person.left_at is None:
            await mark_gone(notifier, person, LEFT_CONFIGURATION)
    await notifier.session.flush()


async def _apply_checklists(session: AsyncSession, settings: Settings) -> None:
    # Templates are configuration, not history: each start rewrites them. Hand-offs under way
    # keep the items they started with.
    rules = await session.get(HandoffRules, 1) or HandoffRules(id=1)
    rules.stall_after_seconds = int(settings.handoff.stall_after.total_seconds())
    rules.verify_every_seconds = int(settings.ownership.verify_every.total_seconds())
    session.add(rules)
    await session.execute(delete(ChecklistTemplate))
    for cfg in settings.handoff.checklists:
        session.add_all(
            ChecklistTemplate(category=cfg.category, position=n, text=text)
            for n, text in enumerate(cfg.items, start=1)
        )
    await session.flush()


async def _apply_github_rules(
    session: AsyncSession, settings: Settings, orgs: dict[str, Org]
) -> None:
    # Rules carry no history (a review keeps its own policy and org), so the file replaces them.
    await session.execute(delete(GithubRule))
    for position, rule in enumerate(settings.github.rules, start=1):
        person = (
            await session.scalar(select(Person).where(Person.handle == rule.person))
            if rule.person
            else None
        )
        policy = (
            await session.scalar(select(SlaPolicy).where(SlaPolicy.name == rule.policy))
            if rule.policy
            else None
        )
        session.add(
            GithubRule(
                position=position,
                repository=rule.repository,
                label=rule.label,
                team=rule.team,
                person_id=person.id if person else None,
                policy_id=policy.id if policy else None,
                org_id=orgs[rule.org].id,
            )
        )
    await session.flush()


async def _apply_meeting(session: AsyncSession, settings: Settings, now: datetime) -> None:
    # A schedule set in chat (/meeting schedule) wins over the file until the row is removed.
    cfg = settings.meeting
    series = await session.get(MeetingSeries, SERIES_ID)
    if cfg is None or (series is not None and series.set_in_chat):
        return
    if series is None:
        series = MeetingSeries(id=SERIES_ID, set_in_chat=False)
        session.add(series)
    series.weekday, series.time, series.timezone = cfg.weekday, cfg.time, cfg.timezone
    series.channel = cfg.channel or settings.announce_channel
    series.duration_minutes = int(cfg.duration.total_seconds() // 60)
    series.agenda_post_before_seconds = int(cfg.agenda_post_before.total_seconds())
    series.updated_at = now
    await session.flush()
    await realign(session, series, now)


async def _link(session: AsyncSession, person: Person, wanted: dict[str, str]) -> None:
    for platform, user_id in wanted.items():
        mine = next((i for i in person.identities if i.platform == platform), None)
        if mine is not None and mine.user_id == user_id:
            continue
        # The account may have used the bot before it was configured: it now belongs here.
        await session.execute(
            delete(Identity).where(Identity.platform == platform, Identity.user_id == user_id)
        )
        if mine is not None:
            mine.user_id = user_id
        else:
            session.add(Identity(person_id=person.id, platform=platform, user_id=user_id))
    await session.flush()


def _address(channel: Channel, wanted: dict[str, str | None]) -> None:
    # The file speaks only for the platforms it has keys for: an id it leaves out (or empty)
    # removes that platform's row; rows of other platforms are not its business.
    for platform, address in wanted.items():
        mine = next((a for a in channel.addresses if a.platform == platform), None)
        if not address:
            if mine is not None:
                channel.addresses.remove(mine)
        elif mine is not None:
            # Changed in place, not deleted and re-added: (channel, platform) stays unique.
            mine.address = address
        else:
            channel.addresses.append(ChannelAddress(platform=platform, address=address))


def _fill_policy(policy: SlaPolicy, cfg: PolicySettings, *, is_default: bool) -> None:
    policy.calendar = cfg.calendar
    policy.acknowledge_seconds = _seconds(cfg.acknowledge)
    policy.resolve_seconds = _seconds(cfg.resolve)
    policy.written = {"acknowledge": str(cfg.acknowledge), "resolve": str(cfg.resolve)}
    policy.warn_at = cfg.warn_at
    policy.is_default = is_default
    policy.urgent = cfg.urgent
    levels: list[Any] = []
    for level in cfg.escalation:
        entry: dict[str, Any] = {
            "after_seconds": _seconds(level.after),
            "after": str(level.after),
            "notify": list(level.notify),
        }
        if level.broadcast:
            entry["broadcast"] = True
        if level.repeat is not None:
            entry["repeat"] = {
                "every_seconds": _seconds(level.repeat.every),
                "every": str(level.repeat.every),
                "times": level.repeat.times,
            }
        levels.append(entry)
    policy.escalation = levels


def _seconds(written: WrittenDuration) -> int:
    """A duration's seconds, a business day counted as 8h (its text, kept beside, wins)."""
    return int(written.on(DEFAULT_DAY).total_seconds())
