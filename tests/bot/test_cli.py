"""The `liaison` command as a user runs it.

A few tests run the real console script in a subprocess (slow, so only the journeys a newcomer
takes first); the rest drive the same typer app in-process with CliRunner. CliRunner calls
asyncio.run itself, so these tests are plain functions. An error must never reach the user as a
traceback: it is one `liaison: ...` line and exit status 2.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from select import select as wait_readable

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner, Result

from bot import db
from bot.cli import app
from storage.engine import create_engine
from storage.models import ActionItem, ActionStatus, AgendaItem, Area, Meeting, Review
from tests.harness import DEMO, problems, refused, succeeded

LIAISON = Path(sys.executable).parent / "liaison"
DEFAULT_URL = 'url = "sqlite+aiosqlite:///liaison.db"'
TRANSCRIPT = (
    '/dri set "Smart contract review" @bob\n'
    '/handoff plan "Smart contract review" near 2026Q1\n'
    '/dri who "Smart contract review"\n'
    "/handoff board\n"
)


@pytest.fixture(autouse=True)
def _no_config_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # A LIAISON_DATABASE_URL or LIAISON_CONFIG in the developer's shell would change the config.
    for name in list(os.environ):
        if name.startswith("LIAISON_") and not name.startswith("LIAISON_TEST_"):
            monkeypatch.delenv(name)


def demo_config(path: Path, database_url: str | None = None) -> Path:
    """The shipped demo config, optionally pointed at another database."""
    text = DEMO.read_text(encoding="utf-8")
    assert text.count(DEFAULT_URL) == 1
    if database_url is not None:
        text = text.replace(DEFAULT_URL, f'url = "{database_url}"')
    path.write_text(text, encoding="utf-8")
    return path


def liaison(cwd: Path, *args: str, input: str = "") -> subprocess.CompletedProcess[str]:
    """Run the installed `liaison` script in `cwd`, as a user does in a terminal."""
    assert LIAISON.is_file(), f"{LIAISON} is missing: pip install -e . in this environment"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIAISON_")}
    return subprocess.run(
        [str(LIAISON), *args],
        cwd=cwd,
        input=input,
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        timeout=60,
        check=False,
    )


def invoke(config: Path, *args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(app, ["-c", str(config), *args], input=input)


@pytest.fixture
def config(tmp_path: Path, database_url: str) -> Path:
    """The demo config on the test database (migrated, on each back end in turn)."""
    return demo_config(tmp_path / "liaison.toml", database_url)


@pytest.fixture
def sqlite_config(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    """The demo config on a migrated SQLite file, where the back end plays no part."""
    path = tmp_path / "liaison.db"
    shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
    return demo_config(tmp_path / "liaison.toml", f"sqlite+aiosqlite:///{path}")


# --- the real console script ---------------------------------------------------------------------


def test_db_upgrade_on_a_fresh_sqlite_file_reaches_head_and_db_current_agrees(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = demo_config(tmp_path / "liaison.toml")  # in the working directory, as documented
    (tmp_path / "liaison.db").touch()
    head = db.head()

    upgraded = liaison(tmp_path, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert upgraded.stdout == f"database at revision {head}\n"
    assert "Traceback" not in upgraded.stderr

    monkeypatch.chdir(tmp_path)
    assert succeeded(invoke(config, "db", "current")) == (
        f"database at revision {head}; newest is {head}: up to date\n"
    )


def test_the_issue_transcript_through_the_installed_console(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = demo_config(tmp_path / "liaison.toml")
    with monkeypatch.context() as here:
        here.chdir(tmp_path)  # the config's database is liaison.db in the working directory
        assert succeeded(invoke(config, "db", "upgrade")) == f"database at revision {db.head()}\n"

    done = liaison(tmp_path, "console", "--as", "alice", input=TRANSCRIPT)

    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    out = done.stdout
    replies = [
        "Done: @bob is the DRI of Smart contract review. Announced in #shared.",
        "Hand-off proposed: Smart contract review is now proposed "
        "(set → ic, target 2026Q1), waiting for a lead of `ic` to accept. Announced in #shared.",
        "DRI: @bob",
        "Owned by: Set Protocol",
        "Hand-off: proposed (set → ic, target 2026Q1), waiting for a lead of `ic` to accept",
        "Hand-off board — 1 area",
        "Proposed (1)",
        "• Smart contract review (set → ic, 2026Q1) — DRI @bob",
    ]
    for reply in replies:
        assert reply + "\n" in out, reply
    # Each line typed is echoed, and its reply comes before the next line.
    positions = [out.index(f"> {text}\n") for text in TRANSCRIPT.splitlines()]
    assert positions == sorted(positions)
    assert positions[0] < out.index(replies[0]) < positions[1] < out.index(replies[1])
    # The two changes were announced in the shared channel, right after their replies.
    notes = [text for text in out.splitlines() if text.startswith("[")]
    assert notes == ["[#shared] New area", "[#shared] Hand-off proposed"]
    assert out.index(replies[0]) < out.index(notes[0]) < positions[1]
    assert out.index(replies[1]) < out.index(notes[1]) < positions[2]
    assert "          DRI: none → @bob\n" in out
    assert "          hand-off: owned → proposed\n" in out


def test_the_installed_console_on_an_unmigrated_database_says_to_run_db_upgrade(
    tmp_path: Path,
) -> None:
    demo_config(tmp_path / "liaison.toml")

    done = liaison(tmp_path, "console", input="/whoami\n")

    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (
        f"liaison: the database is at revision none (empty) but this version needs {db.head()}: "
        "run `liaison db upgrade` first\n"
    )


def test_the_installed_console_ends_quietly_when_its_reader_goes_away(
    sqlite_config: Path, tmp_path: Path
) -> None:
    # `liaison console | head -1`, with the reader gone before the first line: the pending
    # notifications of a map import are being delivered when the pipe closes.
    rows = "".join(f"Area {n},set,bob,,owned,,,\n" for n in range(40))
    (tmp_path / "map.csv").write_text("area,org,dri,backup,state,from,to,quarter\n" + rows)
    assert succeeded(invoke(sqlite_config, "map", "import", str(tmp_path / "map.csv")))
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIAISON_")}
    with subprocess.Popen(
        [str(LIAISON), "-c", str(sqlite_config), "console"],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stdout is not None
        proc.stdout.close()
        _, err = proc.communicate("/whoami\n" * 50, timeout=60)

    assert err == ""
    assert proc.returncode == 1


def test_ctrl_c_at_the_prompt_ends_the_installed_console_at_once(sqlite_config: Path) -> None:
    # A terminal, so the console prompts; Ctrl-C there used to wait for Enter.
    main, terminal = os.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIAISON_")}
    env["HOME"] = str(sqlite_config.parent)  # the line history is written there
    proc = subprocess.Popen(
        [str(LIAISON), "-c", str(sqlite_config), "console"],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env=env,
    )
    try:
        os.close(terminal)
        shown = b""
        while b"liaison> " not in shown:
            ready, _, _ = wait_readable([main], [], [], 30)
            assert ready, shown
            shown += os.read(main, 4096)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 130
    finally:
        proc.kill()
        proc.wait()
        os.close(main)


# --- the console, in-process ---------------------------------------------------------------------


def test_console_without_as_acts_as_the_first_lead(config: Path) -> None:
    out = succeeded(invoke(config, "console", input="/whoami\n"))
    assert "> /whoami\nYou are @alice\n" in out


def test_the_demo_has_an_admin_who_can_set_roles_and_move_the_meeting(
    sqlite_config: Path,
) -> None:
    out = succeeded(
        invoke(
            sqlite_config,
            "console",
            "--as",
            "erin",
            input="/people role @bob lead\n/meeting schedule friday 15:00 Europe/London\n",
        )
    )
    assert "Done: @bob is now a `lead`." in out
    assert "Done: the weekly sync is now Fridays 15:00 Europe/London" in out


def test_console_as_a_handle_with_an_at_sign_acts_as_that_person(sqlite_config: Path) -> None:
    out = succeeded(invoke(sqlite_config, "console", "--as", "@dave", input="/whoami\n"))
    assert "You are @dave\n" in out and "Org: Index Coop" in out


def test_console_as_an_unknown_handle_exits_2_naming_the_known_handles(
    sqlite_config: Path,
) -> None:
    result = invoke(sqlite_config, "console", "--as", "zed", input="/whoami\n")
    assert refused(result) == [
        "liaison: no person called @zed in the configuration (known: alice, bob, carol, dave, erin)"
    ]
    assert "You are" not in result.stdout


def _people(config: Path, keep: str) -> Path:
    """The config with only the [[people]] entries whose text contains `keep` ("" for none)."""
    text = config.read_text(encoding="utf-8")
    blocks = re.findall(r"\[\[people\]\]\n(?:[^\n]+\n)*\n", text)
    assert len(blocks) >= 4
    for block in blocks:
        if not keep or keep not in block:
            text = text.replace(block, "")
    config.write_text(text, encoding="utf-8")
    return config


def test_with_no_lead_or_admin_the_console_and_the_map_act_as_the_first_person(
    sqlite_config: Path,
) -> None:
    _people(sqlite_config, keep='role = "member"')
    assert "You are @bob\n" in succeeded(invoke(sqlite_config, "console", input="/whoami\n"))
    assert succeeded(invoke(sqlite_config, "map", "export")).startswith("area,org,dri")


def test_with_no_people_the_console_acts_as_the_local_operator(sqlite_config: Path) -> None:
    _people(sqlite_config, keep="")
    out = succeeded(invoke(sqlite_config, "console", input="/whoami\n/whoami\n"))
    assert out.count("You are @operator\n") == 2 and "Role: admin" in out
    assert succeeded(invoke(sqlite_config, "map", "export")).startswith("area,org,dri")
    assert refused(invoke(sqlite_config, "console", "--as", "zed", input="")) == [
        "liaison: no person called @zed: the configuration has no [[people]]; leave out --as "
        "to act as the local @operator, or add people (docs/configuration.md)"
    ]


def test_run_with_no_chat_tokens_starts_the_local_console_and_ends_with_its_input(
    config: Path,
) -> None:
    result = invoke(config, "run", input="")
    assert succeeded(result) == ""
    assert "No chat platform is configured: starting the local console" in result.stderr


def test_outbox_failed_on_a_fresh_database_says_there_are_none(config: Path) -> None:
    assert succeeded(invoke(config, "outbox", "failed")) == "no failed notifications\n"


def test_db_current_on_an_empty_database_says_it_needs_an_upgrade_and_exits_1(
    tmp_path: Path,
) -> None:
    (tmp_path / "empty.db").touch()
    config = demo_config(tmp_path / "c.toml", f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    result = invoke(config, "db", "current")
    # Scripts ask by the status: 0 up to date, 1 an upgrade is needed, 2 could not tell.
    assert result.exit_code == 1 and result.stderr == ""
    assert result.stdout == (
        f"database at revision none (empty); newest is {db.head()}: needs `liaison db upgrade`\n"
    )


def test_config_is_accepted_after_the_command_too(
    sqlite_config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = succeeded(
        CliRunner().invoke(app, ["console", "--config", str(sqlite_config)], "/whoami\n")
    )
    assert "You are @alice" in out
    # Typed on the command line, it beats LIAISON_CONFIG, wherever it is.
    monkeypatch.setenv("LIAISON_CONFIG", str(tmp_path / "nowhere.toml"))
    assert succeeded(CliRunner().invoke(app, ["db", "current", "-c", str(sqlite_config)]))


def test_two_different_config_files_are_refused_not_one_dropped(
    sqlite_config: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other.toml"
    result = CliRunner().invoke(app, ["-c", str(other), "console", "-c", str(sqlite_config)])
    assert refused(result) == [
        f"liaison: --config is given twice ({other} and {sqlite_config}): give it once"
    ]


# --- configuration errors ---------------------------------------------------------------------

COMMANDS = [
    ["console"],
    ["run"],
    ["db", "upgrade"],
    ["db", "current"],
    ["map", "export"],
    ["map", "import", str(DEMO)],
    ["outbox", "failed"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_every_command_refuses_a_bad_config_in_one_line_naming_the_key(
    tmp_path: Path, command: list[str]
) -> None:
    config = demo_config(tmp_path / "liaison.toml")
    text = config.read_text(encoding="utf-8")
    # The org's zone comes first; the [meeting] block further down names it too.
    assert text.index('timezone = "Europe/London"') < text.index("[meeting]")
    config.write_text(text.replace('"Europe/London"', '"Europe/Londn"', 1), encoding="utf-8")

    result = invoke(config, *command, input="")

    assert refused(result) == [
        f"liaison: config error: {config}: orgs[2].timezone: 'Europe/Londn' is not a time zone "
        "(expected an IANA name such as Europe/London)"
    ]
    assert result.stdout == ""


def test_a_config_that_is_not_toml_is_a_config_error(tmp_path: Path) -> None:
    config = tmp_path / "liaison.toml"
    config.write_text("[[orgs]\nkey = 'set'\n", encoding="utf-8")
    (problem,) = refused(invoke(config, "console", input=""))
    assert problem.startswith(f"liaison: config error: {config}: not valid TOML: ")
    assert "line 1" in problem


def test_a_missing_config_file_is_a_config_error(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"
    assert refused(invoke(missing, "db", "current")) == [
        f"liaison: config error: config file {missing} does not exist"
    ]


def test_the_config_file_can_come_from_liaison_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = demo_config(tmp_path / "elsewhere.toml", "postgresql://nobody@nowhere/x")
    monkeypatch.setenv("LIAISON_CONFIG", str(config))
    result = CliRunner().invoke(app, ["db", "current"])
    # The file named by the variable was read: its (bad) database URL is what is refused.
    (problem,) = refused(result)
    assert problem.startswith(f"liaison: config error: {config}: database.url: ")


@pytest.mark.parametrize(
    "variable",
    ["LIAISON_CHANNELS", "LIAISON_DATABASE", "LIAISON_DIGEST", "LIAISON_DIGEST_CHANNELS"],
)
def test_a_variable_that_is_not_json_is_one_line_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    config = demo_config(tmp_path / "liaison.toml")
    monkeypatch.setenv(variable, '[{"name": "ops"')
    assert refused(invoke(config, "db", "current")) == [
        f"liaison: config error: {variable}: not valid JSON (Expecting ',' delimiter: line 1 "
        "column 16 (char 15)); a section or list set in the environment is written as JSON "
        "(docs/configuration.md)"
    ]


# --- a database that cannot be used --------------------------------------------------------------


# When SQLite cannot open the file, aiosqlite's worker thread also fails to report back to the
# loop that asyncio.run has already closed; that is the library's noise, not a second problem.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
@pytest.mark.parametrize(
    ("command", "url", "reason"),
    [
        (
            ["db", "upgrade"],
            "sqlite+aiosqlite:///{tmp}/no/such/dir/liaison.db",
            "unable to open database file",
        ),
        (
            ["console"],
            "sqlite+aiosqlite:///{tmp}/no/such/dir/liaison.db",
            "unable to open database file",
        ),
        (
            ["db", "current"],
            "postgresql+asyncpg://postgres@127.0.0.1:1/liaison",
            "Connect call failed",
        ),
    ],
    ids=["upgrade-sqlite-missing-dir", "console-sqlite-missing-dir", "current-postgres-down"],
)
def test_a_database_that_cannot_be_opened_is_explained_not_a_traceback(
    tmp_path: Path, command: list[str], url: str, reason: str
) -> None:
    config = demo_config(tmp_path / "liaison.toml", url.format(tmp=tmp_path))
    first, hint = refused(invoke(config, *command, input=""))
    assert first.startswith("liaison: cannot use the database: ") and reason in first
    assert hint == "liaison: check [database] url (or LIAISON_DATABASE_URL)"


def test_db_upgrade_to_a_revision_that_does_not_exist_is_one_line(sqlite_config: Path) -> None:
    assert refused(invoke(sqlite_config, "db", "upgrade", "bogus")) == [
        "liaison: cannot upgrade to 'bogus': Can't locate revision identified by 'bogus' "
        f"(the revisions are {', '.join(db.revisions())}; head is the newest)"
    ]
    assert db.revisions()[0] == "0001" and db.revisions()[-1] == db.head()


def test_a_file_that_cannot_be_written_is_named_not_the_database(
    sqlite_config: Path, tmp_path: Path
) -> None:
    target = tmp_path / "no" / "such" / "map.csv"
    assert refused(invoke(sqlite_config, "map", "export", "-o", str(target))) == [
        f"liaison: No such file or directory: {target}"
    ]


# --- liaison demo seed ---------------------------------------------------------------------------

DIGEST_SECTIONS = (
    "SLA compliance",
    "Open reviews",
    "Breaches and escalations this week",
    "Hand-offs",
    "Moved this week:",
    "Next sync,",
    "Action items",
    "Roadmap changes since the last digest",
    "Delivery problems",
)


async def _next_chases(url: str) -> list[datetime]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(ActionItem.next_chase_at).where(ActionItem.status == ActionStatus.OPEN)
            )
            return [at for (at,) in rows if at is not None]
    finally:
        await engine.dispose()


def test_demo_seed_then_digest_preview_shows_every_section_and_the_chart(
    config: Path, tmp_path: Path, database_url: str
) -> None:
    seeded = succeeded(invoke(config, "demo", "seed"))
    assert seeded.startswith("seeded 29 reviews, 10 areas, 5 meetings")

    shown = succeeded(
        invoke(
            config,
            "console",
            "--as",
            "carol",
            input="/digest preview\n/digest preview part=2\n/digest preview part=3\n",
        )
    )
    for heading in DIGEST_SECTIONS:
        assert f"\n{heading}" in shown, heading
    chart = shown.split("Chart: SLA compliance per week and hand-off progress: ")[1].split()[0]
    assert Path(chart).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # The open actions will be chased, on a business morning still to come.
    chases = asyncio.run(_next_chases(database_url))
    assert len(chases) == 4 and all(at > datetime.now(UTC) for at in chases)
    assert all(at.weekday() < 5 for at in chases)

    again = problems(invoke(config, "demo", "seed"))
    assert again[0] == (
        "this database already has reviews or areas: seeding would mix the demo into them. "
        "Use an empty database, or add --force to seed anyway."
    )
    assert again[1].startswith("the demo cannot write its weekly syncs: ")
    assert again[2:] == ["nothing was written"]


async def _written(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return {
                model.__tablename__: await conn.scalar(select(func.count()).select_from(model)) or 0
                for model in (Area, Review, Meeting, AgendaItem)
            }
    finally:
        await engine.dispose()


def test_demo_seed_without_the_demo_policies_writes_nothing(sqlite_config: Path) -> None:
    text = sqlite_config.read_text(encoding="utf-8")
    sqlite_config.write_text(text.replace('name = "hotfix"', 'name = "urgent"'), encoding="utf-8")
    assert problems(invoke(sqlite_config, "demo", "seed")) == [
        "the demo's SLA policies are missing: hotfix (copy [[policies]] from examples/demo.toml)",
        "nothing was written",
    ]
    url = _url(sqlite_config)
    assert asyncio.run(_written(url)) == {"area": 0, "review": 0, "meeting": 0, "agenda_item": 0}


def test_demo_seed_force_over_a_meeting_it_would_write_writes_nothing(
    sqlite_config: Path,
) -> None:
    # /agenda add makes the next weekly sync, one of the five the demo writes.
    said = succeeded(invoke(sqlite_config, "console", "--as", "carol", input="/agenda add Hello\n"))
    assert "Added" in said
    (problem, last) = problems(invoke(sqlite_config, "demo", "seed", "--force"))
    assert problem.startswith("the demo cannot write its weekly syncs: this database already has ")
    assert last == "nothing was written"
    url = _url(sqlite_config)
    assert asyncio.run(_written(url)) == {"area": 0, "review": 0, "meeting": 1, "agenda_item": 1}


def _url(config: Path) -> str:
    """The database of `sqlite_config`, beside it."""
    return f"sqlite+aiosqlite:///{config.parent / 'liaison.db'}"


# --- one process per SQLite file -----------------------------------------------------------------


def test_a_second_bot_on_one_sqlite_file_is_refused_and_a_killed_one_blocks_nothing(
    sqlite_config: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIAISON_")}
    holder = subprocess.Popen(
        [str(LIAISON), "-c", str(sqlite_config), "console"],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdin is not None and holder.stdout is not None
        holder.stdin.write("/whoami\n")
        holder.stdin.flush()
        ready, _, _ = wait_readable([holder.stdout], [], [], 60)
        assert ready and holder.stdout.readline() == "> /whoami\n"
        assert "You are @alice" in holder.stdout.readline()

        # A second process that would fire the same deadlines: one line, what to do instead.
        for command in ("console", "run"):
            second = invoke(sqlite_config, command, input="/whoami\n")
            assert second.exit_code == 2, second.output
            assert second.stderr.splitlines()[-1] == (
                f"liaison: another Liaison process (pid {holder.pid}) is running on "
                f"{sqlite_config.parent / 'liaison.db'}: a SQLite database serves one bot "
                "process; stop it first, or move to PostgreSQL to run several (read-only "
                "commands such as `liaison outbox failed` still work)"
            )
        # Commands that fire nothing keep working beside it.
        assert succeeded(invoke(sqlite_config, "outbox", "failed")).strip() == (
            "no failed notifications"
        )
        assert succeeded(invoke(sqlite_config, "map", "export")).startswith("area,")

        # Killed with no chance to clean up: the kernel released its lock with it.
        holder.kill()
        holder.wait(timeout=10)
        out = succeeded(invoke(sqlite_config, "console", input="/whoami\n"))
        assert "You are @alice" in out
    finally:
        holder.kill()
        holder.wait()
