"""Configuration: every mistake is one line that names the key and says what is expected."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from bot.config import ConfigError, Settings, load_settings
from storage.models import Role
from tests.harness import DEMO

# A complete config shaped like the demo, kept here so that editing the demo moves no test.
BASE = """\
[database]
url = "sqlite+aiosqlite:///liaison.db"

[[orgs]]
key = "set"
name = "Set Protocol"
timezone = "America/New_York"
business_hours = "Mon-Fri 09:00-17:00"
holidays = "US"

[[orgs]]
key = "ic"
name = "Index Coop"
timezone = "Europe/London"
business_hours = "Mon-Fri 09:00-17:30"
holidays = "GB"

[[people]]
handle = "alice"
name = "Alice Asoong"
org = "set"
role = "lead"

[[people]]
handle = "bob"
name = "Bob Willz"
org = "set"
role = "member"

[[people]]
handle = "carol"
name = "Carol Cavalier"
org = "ic"
role = "lead"

[[people]]
handle = "dave"
name = "Dave Edwardk"
org = "ic"
role = "member"

[[channels]]
name = "shared"

[[policies]]
name = "smart-contract"
calendar = "business"
acknowledge = "4h"
resolve = "16h"
warn_at = 0.75
default = true

[[policies.escalation]]
after = "0s"
notify = ["reviewer", "requester"]

[[policies.escalation]]
after = "4h"
notify = ["area-backup", "reviewing-org-leads"]

[[policies.escalation]]
after = "1bd"
notify = ["reviewing-org-leads", "requesting-org-leads", "channel:shared"]
repeat = { every = "1bd", times = 3 }

[[policies]]
name = "hotfix"
calendar = "24x7"
acknowledge = "30m"
resolve = "4h"
warn_at = 0.5

[[policies.escalation]]
after = "0s"
notify = ["reviewer", "reviewing-org-leads"]

[[policies.escalation]]
after = "30m"
notify = ["requesting-org-leads", "channel:shared"]
"""


@pytest.fixture(autouse=True)
def _no_config_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # A LIAISON_DATABASE_URL in the developer's shell would override what the files say.
    for name in list(os.environ):
        if name.startswith("LIAISON_") and not name.startswith("LIAISON_TEST_"):
            monkeypatch.delenv(name)


def base_with(*edits: tuple[str, str]) -> str:
    """The base config with each (old, new) replacement made exactly once."""
    text = BASE
    for old, new in edits:
        assert text.count(old) == 1, f"{old!r} is not in the base config exactly once"
        text = text.replace(old, new)
    return text


def problems(tmp_path: Path, text: str) -> list[str]:
    """Load a config; return its error lines without the leading file name."""
    path = tmp_path / "liaison.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(str(path))
    lines = str(caught.value).splitlines()
    assert all(text.startswith(f"{path}: ") for text in lines), lines
    return [text.removeprefix(f"{path}: ") for text in lines]


def loads(tmp_path: Path, text: str) -> Settings:
    path = tmp_path / "liaison.toml"
    path.write_text(text, encoding="utf-8")
    return load_settings(str(path))


def test_the_shipped_demo_config_loads() -> None:
    settings = load_settings(str(DEMO))
    # What the tests and the README rely on: two orgs, a lead and a member in each, an admin,
    # one shared channel.
    assert [o.key for o in settings.orgs] == ["set", "ic"]
    assert [(p.handle, p.org, p.role) for p in settings.people] == [
        ("alice", "set", Role.LEAD),
        ("bob", "set", Role.MEMBER),
        ("carol", "ic", Role.LEAD),
        ("dave", "ic", Role.MEMBER),
        ("erin", "ic", Role.ADMIN),
    ]
    assert settings.announce_channel == "shared"
    first = settings.first_leader()
    assert first is not None and first.handle == "alice"
    assert sum(p.default for p in settings.policies) == 1


def test_a_config_reads_into_typed_values(tmp_path: Path) -> None:
    settings = loads(tmp_path, BASE)
    assert settings.database.url == "sqlite+aiosqlite:///liaison.db"
    assert settings.orgs[1].timezone == "Europe/London"
    policy = settings.policies[0]
    # SLA durations keep the units they were written in: a business day has no fixed length.
    assert (policy.name, str(policy.acknowledge), str(policy.resolve), policy.warn_at) == (
        "smart-contract",
        "4h",
        "16h",
        0.75,
    )
    assert policy.escalation[2].repeat is not None
    assert (str(policy.escalation[2].repeat.every), policy.escalation[2].repeat.times) == (
        "1bd",
        3,
    )
    # Unset keys take their documented defaults.
    assert settings.channels[0].slack is None and settings.people[1].slack is None


# Each mistake, the one line it gives (after "FILE: "), as (key, what the message says).
MISTAKES = {
    "unknown time zone": (
        [('"Europe/London"', '"Europe/Londn"')],
        "orgs[2].timezone: 'Europe/Londn' is not a time zone "
        "(expected an IANA name such as Europe/London)",
    ),
    "bad business hours": (
        [('"Mon-Fri 09:00-17:30"', '"Mon-Fry 09:00-17:30"')],
        "orgs[2].business_hours: 'Mon-Fry 09:00-17:30': unknown day 'Fry' "
        "(expected Mon, Tue, Wed, Thu, Fri, Sat or Sun)",
    ),
    "unknown holiday country": (
        [('holidays = "GB"', 'holidays = "XX"')],
        "orgs[2].holidays: Unknown country code 'XX' for holidays "
        "(expected an ISO 3166-1 alpha-2 code such as US, GB, DE, FR or IN)",
    ),
    "person in an unknown org": (
        [('org = "ic"\nrole = "member"', 'org = "icc"\nrole = "member"')],
        "people[4].org: 'icc' is not an org (expected one of set, ic)",
    ),
    "duplicate org key": (
        [
            (
                '[[people]]\nhandle = "alice"',
                '[[orgs]]\nkey = "ic"\nname = "IC"\n\n[[people]]\nhandle = "alice"',
            )
        ],
        "orgs: two entries have key = 'ic'",
    ),
    "unknown notify target": (
        [('notify = ["reviewer", "requester"]', 'notify = ["reviewer", "boss"]')],
        "policies[1].escalation[1].notify: 'boss' is not a notify target (expected reviewer, "
        "requester, area-backup, reviewing-org-leads, requesting-org-leads or channel:<name>)",
    ),
    "channel that does not exist": (
        [('"channel:shared"]\nrepeat', '"channel:general"]\nrepeat')],
        "policies[1].escalation[3].notify: no channel called 'general' (expected one of shared)",
    ),
    "bad duration": (
        [('resolve = "4h"', 'resolve = "4 hourz"')],
        'policies[2].resolve: "4 hourz" is not a duration: expected a duration such as "30m", '
        '"4bh" (business hours), "2bd" (business days), "1 business day 4h" or ISO 8601 "PT4H"',
    ),
    "duration as a bare number": (
        [('resolve = "4h"', "resolve = 4")],
        'policies[2].resolve: write durations as text, e.g. "30m", "4bh", "2bd" or "2d"',
    ),
    "calendar days on a business calendar": (
        [('acknowledge = "4h"', 'acknowledge = "2d"')],
        'policies[1]: acknowledge: "2d" on a business calendar would mean 48 business hours, '
        'not 2 working days: write "2bd" for 2 business days, or "48bh" if you meant the hours',
    ),
    "business days on a 24x7 calendar": (
        [('resolve = "4h"', 'resolve = "1bd"')],
        'policies[2]: resolve: "1bd" counts business days or hours, but this policy runs 24x7 '
        '(every hour counts): write calendar time such as "2d" or "4h", or set calendar = '
        '"business"',
    ),
    "warn_at of 1 or more": (
        [("warn_at = 0.5", "warn_at = 1.5")],
        "policies[2].warn_at: Input should be less than 1 (got 1.5)",
    ),
    "warn_at of 0": (
        [("warn_at = 0.5", "warn_at = 0")],
        "policies[2].warn_at: Input should be greater than 0 (got 0)",
    ),
    "two default policies": (
        [("warn_at = 0.5", "warn_at = 0.5\ndefault = true")],
        "policies: only one policy can have default = true",
    ),
    "unknown key (a typo)": (
        [('business_hours = "Mon-Fri 09:00-17:30"', 'busines_hours = "Mon-Fri 09:00-17:30"')],
        "orgs[2].busines_hours: unknown key (check the spelling against docs/configuration.md)",
    ),
    "unknown section": (
        [("[[channels]]", "[[channel]]\nname = 'x'\n\n[[channels]]")],
        "channel: unknown key (check the spelling against docs/configuration.md)",
    ),
    "missing required key": (
        [('name = "Set Protocol"\n', "")],
        "orgs[1].name: missing (this key is required)",
    ),
    "zero acknowledge target": (
        [('acknowledge = "30m"', 'acknowledge = "0s"')],
        'policies[2].acknowledge: "0s" is not a positive duration: expected a duration such as '
        '"30m", "4bh" (business hours), "2bd" (business days), "1 business day 4h" or ISO 8601 '
        '"PT4H"',
    ),
    "unknown role": (
        [
            (
                'role = "member"\n\n[[people]]\nhandle = "carol"',
                'role = "owner"\n\n[[people]]\nhandle = "carol"',
            )
        ],
        "people[2].role: Input should be 'member', 'lead' or 'admin' (got 'owner')",
    ),
    "unknown calendar": (
        [('calendar = "24x7"', 'calendar = "weekdays"')],
        "policies[2].calendar: Input should be 'business' or '24x7' (got 'weekdays')",
    ),
    "bad database URL": (
        [("sqlite+aiosqlite:///liaison.db", "mysql://liaison@localhost/liaison")],
        "database.url: expected sqlite+aiosqlite:///FILE or postgresql+asyncpg://USER@HOST/DB",
    ),
}


@pytest.mark.parametrize(("edits", "expected"), MISTAKES.values(), ids=MISTAKES.keys())
def test_each_mistake_is_one_line_naming_the_key_and_what_is_expected(
    tmp_path: Path, edits: list[tuple[str, str]], expected: str
) -> None:
    assert problems(tmp_path, base_with(*edits)) == [expected]


def test_several_field_mistakes_are_one_line_each(tmp_path: Path) -> None:
    text = base_with(
        ('"America/New_York"', '"America/Nowhere"'),
        ('holidays = "GB"', 'holidays = "XX"'),
        ('acknowledge = "4h"', 'acknowledge = "soon"'),
    )
    found = problems(tmp_path, text)
    assert [line.split(":")[0] for line in found] == [
        "orgs[1].timezone",
        "orgs[2].holidays",
        "policies[1].acknowledge",
    ]


def test_invalid_toml_says_where(tmp_path: Path) -> None:
    (problem,) = problems(tmp_path, BASE + "\n[[orgs]\n")
    assert problem.startswith("not valid TOML: ")
    assert f"line {BASE.count(chr(10)) + 2}" in problem


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"
    with pytest.raises(ConfigError) as caught:
        load_settings(str(missing))
    assert str(caught.value) == f"config file {missing} does not exist"


def test_an_empty_file_says_which_sections_are_required(tmp_path: Path) -> None:
    assert problems(tmp_path, "") == [
        "orgs: missing (this key is required)",
        "channels: missing (this key is required)",
    ]


# --- escalation delays --------------------------------------------------------------------------


def test_an_escalation_after_0s_is_accepted(tmp_path: Path) -> None:
    settings = loads(tmp_path, BASE)
    assert [level.after.time for level in settings.policies[1].escalation] == [
        timedelta(0),
        timedelta(minutes=30),
    ]


def test_an_escalation_after_a_negative_delay_is_refused(tmp_path: Path) -> None:
    (problem,) = problems(tmp_path, base_with(('after = "30m"', 'after = "-30m"')))
    assert problem.startswith("policies[2].escalation[2].after: ")
    assert "expected a duration" in problem


# --- the environment ----------------------------------------------------------------------------


def test_liaison_database_url_overrides_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = "postgresql+asyncpg://liaison@db.internal:5432/liaison"
    monkeypatch.setenv("LIAISON_DATABASE_URL", url)
    settings = loads(tmp_path, BASE)
    assert settings.database.url == url
    # Nothing else moves.
    assert [o.key for o in settings.orgs] == ["set", "ic"]


def test_liaison_database_url_applies_when_the_file_has_no_database_section(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = base_with(('[database]\nurl = "sqlite+aiosqlite:///liaison.db"\n', ""))
    assert loads(tmp_path, text).database.url == "sqlite+aiosqlite:///liaison.db"
    monkeypatch.setenv("LIAISON_DATABASE_URL", "sqlite+aiosqlite:////var/lib/liaison/l.db")
    assert loads(tmp_path, text).database.url == "sqlite+aiosqlite:////var/lib/liaison/l.db"


@pytest.mark.parametrize(
    "url",
    ["postgresql://liaison@db/liaison", "sqlite:///liaison.db", "mysql+aiomysql://x@y/z"],
)
def test_a_bad_database_url_from_the_environment_is_refused_naming_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    # The line names the variable, not the file: the file's URL is fine.
    monkeypatch.setenv("LIAISON_DATABASE_URL", url)
    path = tmp_path / "liaison.toml"
    path.write_text(BASE, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(str(path))
    assert str(caught.value) == (
        "LIAISON_DATABASE_URL: database.url: "
        "expected sqlite+aiosqlite:///FILE or postgresql+asyncpg://USER@HOST/DB"
    )


def test_other_liaison_variables_are_not_config_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The CLI reads LIAISON_CONFIG itself.
    monkeypatch.setenv("LIAISON_CONFIG", str(tmp_path / "liaison.toml"))
    assert loads(tmp_path, BASE).database.url == "sqlite+aiosqlite:///liaison.db"


# --- chat platforms -------------------------------------------------------------------------------


def test_without_tokens_there_is_no_chat_platform(tmp_path: Path) -> None:
    assert loads(tmp_path, BASE).chat_platforms == []


def test_tokens_from_the_environment_turn_platforms_on_and_stay_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIAISON_SLACK_BOT_TOKEN", "xoxb-not-a-real-token")
    monkeypatch.setenv("LIAISON_SLACK_APP_TOKEN", "xapp-not-a-real-token")
    monkeypatch.setenv("LIAISON_DISCORD_TOKEN", "discord-not-a-real-token")
    settings = loads(tmp_path, BASE + "\n[discord]\nguild = 1234\n")
    assert settings.chat_platforms == ["slack", "discord"]
    assert settings.slack.bot_token is not None
    assert settings.slack.bot_token.get_secret_value() == "xoxb-not-a-real-token"
    assert settings.discord.guild == 1234
    # Tokens never show up in logs or error output.
    assert "not-a-real-token" not in repr(settings)


def test_socket_mode_without_an_app_token_says_which_variable_to_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIAISON_SLACK_BOT_TOKEN", "xoxb-not-a-real-token")
    assert problems(tmp_path, BASE) == [
        "slack: mode = socket needs an app-level token: set LIAISON_SLACK_APP_TOKEN (xapp-...), "
        'or use mode = "http"'
    ]


def test_http_mode_without_the_signing_secret_says_which_variable_to_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIAISON_SLACK_BOT_TOKEN", "xoxb-not-a-real-token")
    assert problems(tmp_path, BASE + '\n[slack]\nmode = "http"\n') == [
        "slack: mode = http needs the signing secret: set LIAISON_SLACK_SIGNING_SECRET"
    ]


# --- several problems at once ---------------------------------------------------------------------


def test_two_people_in_unknown_orgs_are_two_lines(tmp_path: Path) -> None:
    text = base_with(
        ('org = "set"\nrole = "member"', 'org = "sett"\nrole = "member"'),
        ('org = "ic"\nrole = "member"', 'org = "icc"\nrole = "member"'),
    )
    assert problems(tmp_path, text) == [
        "people[2].org: 'sett' is not an org (expected one of set, ic)",
        "people[4].org: 'icc' is not an org (expected one of set, ic)",
    ]


def test_every_cross_reference_problem_is_listed_in_one_run(tmp_path: Path) -> None:
    text = base_with(
        ('[[people]]\nhandle = "alice"', '[[people]]\nhandle = "bob"'),
        ('org = "ic"\nrole = "member"', 'org = "icc"\nrole = "member"'),
        ('"channel:shared"]\nrepeat', '"channel:general"]\nrepeat'),
        ("warn_at = 0.5", "warn_at = 0.5\ndefault = true"),
    )
    assert problems(tmp_path, text) == [
        "people: two entries have handle = 'bob'",
        "people[4].org: 'icc' is not an org (expected one of set, ic)",
        "policies[1].escalation[3].notify: no channel called 'general' (expected one of shared)",
        "policies: only one policy can have default = true",
    ]


# --- bugs found while writing these tests (see the report) -------------------------------------


@pytest.mark.parametrize(
    ("edit", "key"),
    [
        (('handle = "bob"', 'handle = "Bob"'), "people[2].handle"),
        (('key = "ic"', 'key = "Index Coop"'), "orgs[2].key"),
        (('name = "shared"', 'name = "#shared"'), "channels[1].name"),
    ],
    ids=["handle", "org key", "channel name"],
)
def test_a_name_that_is_not_a_slug_is_explained_in_words(
    tmp_path: Path, edit: tuple[str, str], key: str
) -> None:
    (problem,) = problems(tmp_path, base_with(edit))
    assert problem.startswith(f"{key}: ")
    assert "lowercase" in problem and "^[a-z0-9]" not in problem


def test_only_the_last_escalation_level_may_repeat(tmp_path: Path) -> None:
    text = base_with(
        (
            'after = "0s"\nnotify = ["reviewer", "reviewing-org-leads"]',
            'after = "0s"\nnotify = ["reviewer", "reviewing-org-leads"]\n'
            'repeat = { every = "1h", times = 2 }',
        )
    )
    (problem,) = problems(tmp_path, text)
    assert problem == (
        "policies[2].escalation: level 1 has a repeat, but only the last level repeats "
        "(move it to level 2)"
    )


def test_the_digest_defaults_to_monday_nine_london_in_the_first_channel(tmp_path: Path) -> None:
    settings = loads(tmp_path, BASE)
    assert (settings.digest.weekday, settings.digest.time) == (0, "09:00")
    assert settings.digest.timezone == "Europe/London"
    assert settings.digest_channels == [settings.channels[0].name]


def test_the_digest_schedule_is_read_in_words_and_checked(tmp_path: Path) -> None:
    first = BASE.split("[[channels]]")[1].split('name = "')[1].split('"')[0]
    settings = loads(
        tmp_path,
        BASE + f'\n[digest]\nweekday = "Fri"\ntime = "7:30"\ntimezone = "America/New_York"\n'
        f'channels = ["{first}"]\n',
    )
    assert (settings.digest.weekday, settings.digest.time) == (4, "07:30")
    assert settings.digest_channels == [first]
    found = problems(
        tmp_path,
        BASE + '\n[digest]\nweekday = "Someday"\ntime = "25:00"\ntimezone = "Mars/Base"\n',
    )
    assert [problem.split(":")[0] for problem in found] == [
        "digest.weekday",
        "digest.time",
        "digest.timezone",
    ]
    assert '"Someday" is not a weekday' in found[0]
    (unknown,) = problems(tmp_path, BASE + '\n[digest]\nchannels = ["nowhere"]\n')
    assert unknown.startswith("digest.channels: no channel called 'nowhere' (expected one of ")


# --- GitHub ---------------------------------------------------------------------------------------


def test_github_secrets_come_from_the_environment_and_rules_are_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIAISON_GITHUB_WEBHOOK_SECRET", "whsec-not-a-real-secret")
    monkeypatch.setenv("LIAISON_GITHUB_TOKEN", "ghp-not-a-real-token")
    text = BASE.replace('handle = "dave"', 'handle = "dave"\ngithub = "Dave-IC"') + (
        '\n[[github.rules]]\nrepository = "SetProtocol/*"\nlabel = "needs-ic-review"\n'
        'policy = "smart-contract"\norg = "ic"\n'
        '\n[[github.rules]]\nperson = "dave"\norg = "ic"\n'
    )
    settings = loads(tmp_path, text)
    assert settings.github.webhook_secret is not None
    assert settings.github.webhook_secret.get_secret_value() == "whsec-not-a-real-secret"
    assert [(r.repository, r.label, r.person, r.org) for r in settings.github.rules] == [
        ("SetProtocol/*", "needs-ic-review", None, "ic"),
        ("*/*", None, "dave", "ic"),
    ]
    assert settings.github.reconcile_every == timedelta(minutes=10)
    assert "not-a-real" not in repr(settings)


def test_github_rules_name_each_wrong_reference(tmp_path: Path) -> None:
    text = BASE + (
        '\n[[github.rules]]\nrepository = "SetProtocol"\norg = "icc"\n'
        '\n[[github.rules]]\nteam = "core"\npolicy = "fast"\norg = "ic"\n'
        '\n[[github.rules]]\nperson = "bob"\norg = "ic"\n'
        '\n[[github.rules]]\nperson = "zed"\norg = "ic"\n'
    )
    assert problems(tmp_path, text) == [
        "github.rules[1].repository: 'SetProtocol' is not a repository: write \"owner/name\", "
        'globs allowed (e.g. "SetProtocol/*")',
        "github.rules[2].team: 'core' is not a team: write \"org/team-slug\"",
    ]
    fixed = text.replace('repository = "SetProtocol"', 'repository = "SetProtocol/*"').replace(
        'team = "core"', 'team = "IndexCoop/core"'
    )
    assert problems(tmp_path, fixed) == [
        "github.rules[1].org: 'icc' is not an org (expected one of set, ic)",
        "github.rules[2].policy: 'fast' is not a policy (expected one of smart-contract, hotfix)",
        'github.rules[3].person: @bob has no github login (add github = "login" to their '
        "[[people]] entry)",
        "github.rules[4].person: no person has handle 'zed'",
    ]


def test_a_bad_or_shared_github_login_is_refused(tmp_path: Path) -> None:
    text = BASE.replace('handle = "bob"', 'handle = "bob"\ngithub = "not a login"')
    assert problems(tmp_path, text) == [
        "people[2].github: 'not a login' is not a GitHub login (letters, digits and '-', "
        "at most 39, e.g. 'octocat')"
    ]
    text = BASE.replace('handle = "bob"', 'handle = "bob"\ngithub = "Octo"').replace(
        'handle = "dave"', 'handle = "dave"\ngithub = "octo"'
    )
    assert problems(tmp_path, text) == ["people: two entries have github = 'octo'"]
