"""Configuration: one TOML file plus LIAISON_* environment variables, checked at start.

A wrong value stops start-up with one line per problem, naming the key and what is expected.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from commands.core.calendar import country_holidays, parse_business_hours
from commands.core.grammar import (
    GrammarError,
    WrittenDuration,
    parse_clock_time,
    parse_duration,
    parse_timezone,
    parse_weekday,
    parse_written_duration,
)
from commands.reviews.rules import ChannelTarget, NotifyTarget, calendar_problem, parse_target
from storage.models import Role

DEFAULT_CONFIG = "liaison.toml"
DEMO_CONFIG = Path("examples") / "demo.toml"
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


def _slug(value: str) -> str:
    if not _SLUG.match(value):
        raise ValueError(
            f"{value!r} is not a valid name here: use lowercase letters, digits, '.', '_' or '-', "
            "starting with a letter or digit (e.g. 'ic', 'alice', 'smart-contract')"
        )
    return value


Slug = Annotated[str, AfterValidator(_slug)]
_LOGIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")
_TEAM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")
_REPOSITORY = re.compile(r"^[A-Za-z0-9_.*?\[\]-]+/[A-Za-z0-9_.*?\[\]-]+$")


def _login(value: str) -> str:
    if not _LOGIN.match(value):
        raise ValueError(
            f"{value!r} is not a GitHub login (letters, digits and '-', at most 39, e.g. 'octocat')"
        )
    return value


def time_zone(value: str) -> str:
    """Check an IANA time zone name, or say what is expected."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"{value!r} is not a time zone (expected an IANA name such as Europe/London)"
        ) from None
    return value


class ConfigError(Exception):
    """The configuration cannot be used; each line of the message names one problem."""


def _duration(allow_zero: bool) -> BeforeValidator:
    def read(value: Any) -> Any:
        if isinstance(value, str):
            try:
                return parse_duration(value, allow_zero=allow_zero)
            except GrammarError as exc:
                raise ValueError(str(exc)) from None
        if isinstance(value, int | float) and not isinstance(value, bool):
            raise ValueError('write durations as text, e.g. "90s", "15m", "4h" or "2d"')
        return value

    return BeforeValidator(read)


Duration = Annotated[timedelta, _duration(allow_zero=False)]
# A delay may be zero: "escalate at the moment of breach".
Delay = Annotated[timedelta, _duration(allow_zero=True)]


def _sla_duration(allow_zero: bool) -> BeforeValidator:
    def read(value: Any) -> Any:
        if isinstance(value, str):
            try:
                return parse_written_duration(value, allow_zero=allow_zero)
            except GrammarError as exc:
                raise ValueError(str(exc)) from None
        if isinstance(value, int | float) and not isinstance(value, bool):
            raise ValueError('write durations as text, e.g. "30m", "4bh", "2bd" or "2d"')
        return value

    return BeforeValidator(read)


# SLA durations may be in business units ("2bd", "4bh"); which units fit depends on the
# policy's calendar, checked by the policy.
SlaDuration = Annotated[WrittenDuration, _sla_duration(allow_zero=False)]
SlaDelay = Annotated[WrittenDuration, _sla_duration(allow_zero=True)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseSettings(_Section):
    """Where the data lives."""

    url: str = "sqlite+aiosqlite:///liaison.db"

    @field_validator("url")
    @classmethod
    def _known_driver(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError(
                "expected sqlite+aiosqlite:///FILE or postgresql+asyncpg://USER@HOST/DB"
            )
        return value


class OrgSettings(_Section):
    """One organisation."""

    key: Annotated[Slug, Field(max_length=40)]
    name: str
    timezone: str = "UTC"
    business_hours: str = "Mon-Fri 09:00-17:00"
    holidays: str | None = None

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return time_zone(value)

    @field_validator("business_hours")
    @classmethod
    def _hours(cls, value: str) -> str:
        parse_business_hours(value)
        return value

    @field_validator("holidays")
    @classmethod
    def _holidays(cls, value: str | None) -> str | None:
        if value is not None:
            country_holidays(value)
        return value


class AwaySettings(_Section):
    """Planned time away: from its first day (`start`) until the day they are back (`until`)."""

    # The first day away, and the day they are back (dates in their time zone).
    start: date
    until: date
    # A [[people]] handle of the same org who covers; default: the area's backup, else a lead.
    backup: str | None = None
    note: Annotated[str | None, Field(max_length=200)] = None

    @model_validator(mode="after")
    def _order(self) -> AwaySettings:
        if self.until <= self.start:
            raise ValueError(f"until ({self.until}) must come after start ({self.start})")
        return self


class PersonSettings(_Section):
    """One person, with their ids on each platform."""

    handle: Annotated[Slug, Field(max_length=80)]
    name: str
    org: str
    role: Role = Role.MEMBER
    slack: str | None = None
    discord: str | None = None
    # Which direct messages they get until they choose in chat (/me notify): every one, only
    # what they must act on, or a daily summary.
    notify: Literal["all", "action", "daily"] = "all"
    # Their GitHub login: pull requests they open, review or are asked to review are theirs.
    github: Annotated[str | None, AfterValidator(lambda v: _login(v) if v else v)] = None
    # Their own time zone and working hours (default: their org's); /me changes them in chat.
    timezone: str | None = None
    hours: str | None = None
    away: list[AwaySettings] = []

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return time_zone(value) if value else value

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: str | None) -> str | None:
        if value:
            parse_business_hours(value)
        return value


class ChannelSettings(_Section):
    """A logical shared channel and its id on each platform."""

    name: Annotated[Slug, Field(max_length=80)]
    slack: str | None = None
    discord: str | None = None


class RepeatSettings(_Section):
    """Re-notify the last escalation level every `every`, at most `times` times."""

    every: SlaDuration
    times: Annotated[int, Field(ge=1, le=100)]


class EscalationLevel(_Section):
    """One level of an escalation chain."""

    after: SlaDelay
    notify: Annotated[list[str], Field(min_length=1)]
    repeat: RepeatSettings | None = None
    # Also post at the top level of the notified channels (else only in the card's thread).
    broadcast: bool = False

    @field_validator("notify")
    @classmethod
    def _targets(cls, value: list[str]) -> list[str]:
        for target in value:
            if parse_target(target) is None:
                raise ValueError(
                    f"{target!r} is not a notify target (expected {', '.join(NotifyTarget)} "
                    f"or {ChannelTarget.PREFIX}<name>)"
                )
        return value


class PolicySettings(_Section):
    """An SLA policy for review requests."""

    name: Annotated[Slug, Field(max_length=80)]
    calendar: Literal["business", "24x7"] = "business"
    acknowledge: SlaDuration
    resolve: SlaDuration
    warn_at: Annotated[float, Field(gt=0, lt=1)] = 0.75
    escalation: list[EscalationLevel] = []
    default: bool = False
    # Pings go at once, even outside the recipient's working hours.
    urgent: bool = False

    @model_validator(mode="after")
    def _units_fit_the_calendar(self) -> PolicySettings:
        durations: list[tuple[str, WrittenDuration]] = [
            ("acknowledge", self.acknowledge),
            ("resolve", self.resolve),
        ]
        for n, level in enumerate(self.escalation, start=1):
            durations.append((f"escalation[{n}].after", level.after))
            if level.repeat is not None:
                durations.append((f"escalation[{n}].repeat.every", level.repeat.every))
        problems = [
            f"{key}: {problem}"
            for key, written in durations
            if (problem := calendar_problem(written, self.calendar, str(written)))
        ]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @field_validator("escalation")
    @classmethod
    def _repeat_last_only(cls, levels: list[EscalationLevel]) -> list[EscalationLevel]:
        for n, level in enumerate(levels[:-1], start=1):
            if level.repeat is not None:
                raise ValueError(
                    f"level {n} has a repeat, but only the last level repeats "
                    f"(move it to level {len(levels)})"
                )
        return levels


class SlackSettings(_Section):
    """Slack: tokens come from LIAISON_SLACK_* variables; no bot token means no Slack."""

    mode: Literal["socket", "http"] = "socket"
    bot_token: SecretStr | None = None
    signing_secret: SecretStr | None = None
    app_token: SecretStr | None = None
    api_base_url: str = "https://slack.com/api/"

    @model_validator(mode="after")
    def _complete(self) -> SlackSettings:
        if self.bot_token is None:
            return self
        if self.mode == "socket" and self.app_token is None:
            raise ValueError(
                "mode = socket needs an app-level token: set LIAISON_SLACK_APP_TOKEN (xapp-...), "
                'or use mode = "http"'
            )
        if self.mode == "http" and self.signing_secret is None:
            raise ValueError(
                "mode = http needs the signing secret: set LIAISON_SLACK_SIGNING_SECRET"
            )
        return self


class HttpSettings(_Section):
    """The HTTP server (Slack's events endpoint in http mode)."""

    # Every interface, as a server in a container must; set 127.0.0.1 to keep it local.
    host: str = "0.0.0.0"
    # 0 takes any free port (the one chosen is logged): for tests and throwaway runs.
    port: Annotated[int, Field(ge=0, le=65535)] = 3000


class LimitsSettings(_Section):
    """How many commands run at once and wait; 0 sizes a limit to the database."""

    # Commands that write, at once (SQLite: 1; PostgreSQL: two thirds of the pool's share).
    writers: Annotated[int, Field(ge=0)] = 0
    # Commands that only read, at once (SQLite: 4; PostgreSQL: a third of the pool's share).
    readers: Annotated[int, Field(ge=0)] = 0
    # Commands that may wait for a place, per kind; past this the answer is "busy".
    waiting: Annotated[int, Field(ge=1)] = 200
    # One person's commands running or waiting, per kind; past this, "busy" for them alone.
    per_user: Annotated[int, Field(ge=1)] = 10
    # A command that would wait longer than this for a place (at the recent pace) is "busy".
    max_wait: Duration = timedelta(seconds=2)
    # An acknowledged command not done after this long is run again, by any replica (once).
    resume_after: Duration = timedelta(seconds=30)


class DiscordSettings(_Section):
    """Discord: the token comes from LIAISON_DISCORD_TOKEN; no token means no Discord."""

    token: SecretStr | None = None
    guild: int | None = None
    # Ask for the privileged `members` intent, to hear when someone leaves the server (their
    # person is then gone: bot/discord/adapter.py). Off by default: Discord refuses a gateway
    # that asks for it before it is enabled in the developer portal.
    members: bool = False
    # Discord's own unless set: only to point the bot at a proxy or a test double.
    api_base_url: str | None = None
    gateway_url: str | None = None


class GitHubRuleSettings(_Section):
    """Which pull requests become review requests, and under which policy and reviewing org."""

    # "owner/name"; shell-style globs allowed ("SetProtocol/*").
    repository: str = "*/*"
    label: str | None = None
    # "org/team-slug": a review requested from this team.
    team: str | None = None
    # A [[people]] handle: a review requested from them matches; they review by default.
    person: str | None = None
    policy: str | None = None
    org: str

    @field_validator("repository")
    @classmethod
    def _repository(cls, value: str) -> str:
        if not _REPOSITORY.match(value):
            raise ValueError(
                f'{value!r} is not a repository: write "owner/name", globs allowed '
                '(e.g. "SetProtocol/*")'
            )
        return value

    @field_validator("team")
    @classmethod
    def _team(cls, value: str | None) -> str | None:
        if value is not None and not _TEAM.match(value):
            raise ValueError(f'{value!r} is not a team: write "org/team-slug"')
        return value


class GitHubSettings(_Section):
    """GitHub: the webhook secret and API token come from LIAISON_GITHUB_* variables."""

    # No secret means no webhook endpoint.
    webhook_secret: SecretStr | None = None
    # No token means no reconciliation and no titles read from GitHub.
    token: SecretStr | None = None
    api_base_url: str = "https://api.github.com"
    reconcile_every: Duration = timedelta(minutes=10)
    rules: list[GitHubRuleSettings] = []

    @field_validator("api_base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("expected an http(s) URL such as https://api.github.com")
        return value.rstrip("/")

    @field_validator("reconcile_every")
    @classmethod
    def _often_enough(cls, value: timedelta) -> timedelta:
        if value < timedelta(minutes=1) or value > timedelta(hours=24):
            raise ValueError("must be between 1m and 24h")
        return value


def _grammar(parse: Any) -> BeforeValidator:
    def check(value: Any) -> Any:
        if not isinstance(value, str):
            raise ValueError('write it as text, e.g. "thursday", "16:00" or "Europe/London"')
        try:
            return parse(value)
        except GrammarError as exc:
            raise ValueError(str(exc)) from None

    return BeforeValidator(check)


class MeetingSettings(_Section):
    """The weekly sync meeting; `/meeting schedule` overrides it in the database."""

    # Written "thursday" or "thu"; held as 0 = Monday ... 6 = Sunday.
    weekday: Annotated[int, _grammar(parse_weekday)] = 3
    time: Annotated[str, _grammar(parse_clock_time)] = "16:00"
    timezone: Annotated[str, _grammar(parse_timezone)] = "UTC"
    # A logical channel from [[channels]]; None means the first one.
    channel: str | None = None
    duration: Duration = timedelta(hours=1)
    agenda_post_before: Duration = timedelta(hours=24)


class DigestSettings(_Section):
    """When and where the weekly digest is posted."""

    # Written "monday" or "mon"; held as 0 = Monday ... 6 = Sunday.
    weekday: Annotated[int, _grammar(parse_weekday)] = 0
    time: Annotated[str, _grammar(parse_clock_time)] = "09:00"
    timezone: Annotated[str, _grammar(parse_timezone)] = "Europe/London"
    # Logical channel names; empty means the first configured channel.
    channels: list[Slug] = []


class ChecklistSettings(_Section):
    """The checklist every hand-off of an area category starts with."""

    # Empty: the template for areas of no category (every area, until areas carry one).
    category: Annotated[str, Field(max_length=80)] = ""
    items: Annotated[list[Annotated[str, Field(min_length=1, max_length=200)]], Field(min_length=1)]


class ReviewSettings(_Section):
    """How people are reminded of reviews beside the SLA policies."""

    # How often a requester may nudge the reviewer of one review; business units count on
    # the reviewing org's calendar.
    nudge_every: SlaDuration = parse_written_duration("4bh")


class HandoffSettings(_Section):
    """How hand-offs are carried out: the checklists they start with, when one has stalled."""

    # A hand-off under way with no movement for this long goes on the sync's agenda.
    stall_after: Duration = timedelta(weeks=3)
    checklists: list[ChecklistSettings] = []


class OwnershipSettings(_Section):
    """How the ownership map stays true: how often each DRI confirms their areas."""

    verify_every: Duration = timedelta(weeks=12)


class Settings(BaseSettings):
    """The whole configuration."""

    model_config = SettingsConfigDict(
        env_prefix="LIAISON_",
        env_nested_delimiter="_",
        env_nested_max_split=1,
        extra="forbid",
        frozen=True,
    )

    database: DatabaseSettings = DatabaseSettings()
    orgs: Annotated[list[OrgSettings], Field(min_length=1)]
    people: list[PersonSettings] = []
    channels: Annotated[list[ChannelSettings], Field(min_length=1)]
    policies: list[PolicySettings] = []
    slack: SlackSettings = SlackSettings()
    http: HttpSettings = HttpSettings()
    limits: LimitsSettings = LimitsSettings()
    discord: DiscordSettings = DiscordSettings()
    meeting: MeetingSettings | None = None
    digest: DigestSettings = DigestSettings()
    github: GitHubSettings = GitHubSettings()
    handoff: HandoffSettings = HandoffSettings()
    reviews: ReviewSettings = ReviewSettings()
    ownership: OwnershipSettings = OwnershipSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment overrides the file (the file arrives as init arguments).
        return (env_settings, init_settings)

    @model_validator(mode="after")
    def _references(self) -> Settings:
        # Every problem is collected, so one run of `liaison` lists them all.
        problems = [
            *_duplicates("orgs", "key", [o.key for o in self.orgs]),
            *_duplicates("people", "handle", [p.handle for p in self.people]),
            *_duplicates("channels", "name", [c.name for c in self.channels]),
            *_duplicates("policies", "name", [p.name for p in self.policies]),
        ]
        keys = list(dict.fromkeys(o.key for o in self.orgs))
        for n, person in enumerate(self.people, start=1):
            if person.org not in keys:
                expected = ", ".join(keys)
                problems.append(
                    f"people[{n}].org: {person.org!r} is not an org (expected one of {expected})"
                )
        orgs_of = {p.handle: p.org for p in self.people}
        for n, person in enumerate(self.people, start=1):
            for m, away in enumerate(person.away, start=1):
                if away.backup is not None and orgs_of.get(away.backup) != person.org:
                    problems.append(
                        f"people[{n}].away[{m}].backup: {away.backup!r} is not a [[people]] "
                        f"handle of {person.org!r}"
                    )
        channels = {c.name for c in self.channels}
        for n, policy in enumerate(self.policies, start=1):
            for m, level in enumerate(policy.escalation, start=1):
                for target in map(parse_target, level.notify):
                    if isinstance(target, ChannelTarget) and target.name not in channels:
                        problems.append(
                            f"policies[{n}].escalation[{m}].notify: no channel called "
                            f"{target.name!r} (expected one of {', '.join(sorted(channels))})"
                        )
        if self.meeting and self.meeting.channel and self.meeting.channel not in channels:
            problems.append(
                f"meeting.channel: no channel called {self.meeting.channel!r} "
                f"(expected one of {', '.join(sorted(channels))})"
            )
        for name in self.digest.channels:
            if name not in channels:
                problems.append(
                    f"digest.channels: no channel called {name!r} "
                    f"(expected one of {', '.join(sorted(channels))})"
                )
        problems += self._github_problems(keys)
        if sum(p.default for p in self.policies) > 1:
            problems.append("policies: only one policy can have default = true")
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def _github_problems(self, orgs: list[str]) -> list[str]:
        problems = _duplicates(
            "people", "github", [p.github.lower() for p in self.people if p.github]
        )
        people = {p.handle: p for p in self.people}
        policies = [p.name for p in self.policies]
        for n, rule in enumerate(self.github.rules, start=1):
            where = f"github.rules[{n}]"
            if rule.org not in orgs:
                problems.append(
                    f"{where}.org: {rule.org!r} is not an org (expected one of {', '.join(orgs)})"
                )
            if rule.policy is not None and rule.policy not in policies:
                problems.append(
                    f"{where}.policy: {rule.policy!r} is not a policy "
                    f"(expected one of {', '.join(policies) or 'none: add [[policies]]'})"
                )
            if rule.person is not None:
                person = people.get(rule.person)
                if person is None:
                    problems.append(f"{where}.person: no person has handle {rule.person!r}")
                elif person.github is None:
                    problems.append(
                        f"{where}.person: @{rule.person} has no github login "
                        '(add github = "login" to their [[people]] entry)'
                    )
                elif person.org != rule.org:
                    problems.append(
                        f"{where}.person: @{rule.person} is in {person.org!r}, "
                        f"not in {rule.org!r}, the org that reviews"
                    )
        return problems

    @property
    def announce_channel(self) -> str:
        """The shared channel where map changes are announced: the first one configured."""
        return self.channels[0].name

    @property
    def chat_platforms(self) -> list[str]:
        """The chat platforms with credentials configured, in a fixed order."""
        platforms = []
        if self.slack.bot_token is not None:
            platforms.append("slack")
        if self.discord.token is not None:
            platforms.append("discord")
        return platforms

    @property
    def digest_channels(self) -> list[str]:
        """Where the weekly digest is posted: [digest] channels, else the first channel."""
        return list(dict.fromkeys(self.digest.channels)) or [self.announce_channel]

    def first_leader(self) -> PersonSettings | None:
        """The first lead in the configuration, else the first admin."""
        # A lead first: the console's default is someone who runs an org's day-to-day work
        # (the demo's alice), while an admin is there for roles and the meeting schedule.
        for role in (Role.LEAD, Role.ADMIN):
            for person in self.people:
                if person.role is role:
                    return person
        return None


def _duplicates(section: str, field: str, values: list[str]) -> list[str]:
    seen: set[str] = set()
    problems = []
    for value in values:
        if value in seen:
            problems.append(f"{section}: two entries have {field} = {value!r}")
        seen.add(value)
    return problems


def find_config(path: str | None) -> Path:
    """The config file to read: the one given, else liaison.toml, else the shipped demo."""
    if path:
        chosen = Path(path)
        if not chosen.is_file():
            raise ConfigError(f"config file {path} does not exist")
        return chosen
    for candidate in (
        Path(DEFAULT_CONFIG),
        DEMO_CONFIG,
        Path(__file__).resolve().parent.parent / DEMO_CONFIG,
    ):
        if candidate.is_file():
            return candidate
    raise ConfigError(f"no {DEFAULT_CONFIG} here: pass --config FILE (see docs/configuration.md)")


def load_settings(path: str | None = None) -> Settings:
    """Read and check the configuration, or raise ConfigError saying what is wrong."""
    chosen = find_config(path)
    try:
        data = tomllib.loads(chosen.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{chosen}: not valid TOML: {exc}") from None
    try:
        return Settings(**data)
    except SettingsError as exc:
        # A LIAISON_* variable for a section or list holds text that is not JSON.
        raise ConfigError(_not_json(exc)) from None
    except ValidationError as exc:
        lines = [
            f"{_source(e, chosen)}: {text}"
            for e in exc.errors()
            for text in _describe(e).splitlines()
        ]
        raise ConfigError("\n".join(lines)) from None


def _not_json(exc: SettingsError) -> str:
    """Name the LIAISON_* variable(s) whose value pydantic-settings could not read as JSON."""
    found = re.search(r'field "([^"]+)"', str(exc))
    prefix = f"LIAISON_{found[1]}".upper() if found else "LIAISON_"
    # The section's own variable (LIAISON_CHANNELS) or one of its keys (LIAISON_DIGEST_CHANNELS).
    named = sorted(
        n for n in os.environ if n.upper() == prefix or n.upper().startswith(prefix + "_")
    )
    broken = [name for name in named if not _is_json(os.environ[name])] or named
    reason = str(exc.__cause__ or exc).splitlines()[0]
    return (
        f"{' or '.join(broken) or prefix}: not valid JSON ({reason}); a section or list set in "
        "the environment is written as JSON (docs/configuration.md)"
    )


def _is_json(value: str) -> bool:
    try:
        json.loads(value)
    except ValueError:
        return False
    return True


def _source(error: Any, path: Path) -> str:
    """Where a bad value came from: its environment variable when one is set, else the file."""
    loc = [str(part) for part in error["loc"]]
    if len(loc) == 2:
        variable = f"LIAISON_{loc[0]}_{loc[1]}".upper()
        if variable in os.environ:
            return variable
    return str(path)


def _describe(error: Any) -> str:
    parts: list[str] = []
    for item in error["loc"]:
        if isinstance(item, int):
            # People count entries from 1, as they appear in the file.
            parts[-1] += f"[{item + 1}]"
        else:
            parts.append(str(item))
    where = ".".join(parts)
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown key (check the spelling against docs/configuration.md)"
    elif error["type"] == "missing":
        message = "missing (this key is required)"
    elif error["type"] not in ("value_error", "assertion_error") and "input" in error:
        message += f" (got {error['input']!r})"
    return f"{where}: {message}" if where else message
