"""The `liaison` command: run the bot, the console, migrations, and map import/export."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn, TypeVar

import typer
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from bot import db, logs
from bot.config import ConfigError, Settings, load_settings
from bot.console import PLATFORM as CONSOLE
from bot.console import Console
from bot.plaintext import render
from bot.platforms import PlatformError, serve
from bot.runtime import Runtime, open_runtime
from bot.single import Taken, sole_process
from commands.core.context import Context
from commands.core.messages import Message
from commands.ownership.mapfile import (
    MapFileError,
    export_rows,
    format_for,
    import_rows,
    parse,
    read,
)
from storage import outbox
from storage.engine import create_engine
from storage.models import Identity, Person, Role

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Liaison: DRIs, hand-offs, review SLAs and the weekly sync, shared by two orgs.",
)
db_app = typer.Typer(no_args_is_help=True, help="Database migrations.")
map_app = typer.Typer(no_args_is_help=True, help="The ownership map as a file.")
outbox_app = typer.Typer(no_args_is_help=True, help="Notifications and their delivery.")
demo_app = typer.Typer(no_args_is_help=True, help="Demo data to try Liaison with.")
app.add_typer(db_app, name="db")
app.add_typer(map_app, name="map")
app.add_typer(outbox_app, name="outbox")
slack_app = typer.Typer(no_args_is_help=True, help="Slack: the app manifest.")
app.add_typer(slack_app, name="slack")
app.add_typer(demo_app, name="demo")

T = TypeVar("T")


@dataclass
class Options:
    """Options given before the sub-command."""

    config: str | None
    # Whether `config` came from LIAISON_CONFIG, which a --config after the command overrides.
    from_environment: bool = False


# `liaison console --config x.toml` is what people type: every command that reads the
# configuration takes the option after its name too, as well as before it.
ConfigOption = Annotated[
    str | None,
    typer.Option(
        "--config",
        "-c",
        help="Config file (also accepted before the command; default: LIAISON_CONFIG, "
        "liaison.toml, else the shipped examples/demo.toml).",
        show_default=False,
    ),
]


class Failure(Exception):
    """A problem to report in one line and exit with status 2."""


@app.callback()
def _options(
    ctx: typer.Context,
    config: Annotated[
        str | None,
        typer.Option(
            "--config",
            "-c",
            envvar="LIAISON_CONFIG",
            help="Config file (default: liaison.toml, else the shipped examples/demo.toml).",
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log more.")] = False,
) -> None:
    logs.configure(logging.INFO if verbose else logging.WARNING, sys.stderr)
    source = ctx.get_parameter_source("config")
    ctx.obj = Options(config, source is not None and source.name == "ENVIRONMENT")


def _run(work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run async work, turning expected failures into one clear line and exit status 2."""
    try:
        return asyncio.run(work())
    except (Failure, db.NotMigrated, db.BadRevision, MapFileError, PlatformError, Taken) as exc:
        _fail(*str(exc).splitlines())
    except (DBAPIError, db.Unavailable) as exc:
        # The database cannot be reached or opened (or failed under us): one line, and where
        # its address is set.
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        _fail(
            f"cannot use the database: {reason}",
            "check [database] url (or LIAISON_DATABASE_URL)",
        )
    except BrokenPipeError:
        raise  # whoever read the output has gone: typer ends quietly with status 1
    except OSError as exc:
        # A file, a directory or the network: name it, not the database.
        _fail(_os_reason(exc))
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


def _fail(*lines: str) -> NoReturn:
    """Print each line as `liaison: ...` on stderr and exit with status 2."""
    for text in lines:
        # A driver's or a platform's words may carry a credential (a URL with its password).
        typer.echo(f"liaison: {logs.redact(text)}", err=True)
    raise typer.Exit(2)


def _os_reason(exc: OSError) -> str:
    """An OS error in words: "Permission denied: /some/file", without the errno."""
    if exc.strerror and exc.filename is not None:
        return f"{exc.strerror}: {exc.filename}"
    return str(exc.strerror or exc).splitlines()[0]


def _load(ctx: typer.Context, config: str | None) -> Settings:
    """The settings from --config given before or after the sub-command (or the default)."""
    options: Options = ctx.find_object(Options) or Options(None)
    if options.from_environment and config:
        options = Options(None)  # an option typed on the command line beats the variable
    if config and options.config and Path(config) != Path(options.config):
        # Two different files: neither is silently dropped.
        _fail(f"--config is given twice ({options.config} and {config}): give it once")
    try:
        settings = load_settings(config or options.config)
    except ConfigError as exc:
        _fail(*(f"config error: {text}" for text in str(exc).splitlines()))
    logs.hide(logs.secrets_of(settings))
    return settings


@asynccontextmanager
async def _runtime(
    settings: Settings, platforms: list[str], *, fires: bool = False
) -> AsyncIterator[Runtime]:
    """The runtime for a command; one that `fires` deadlines and jobs is alone on SQLite."""
    with sole_process(settings.database.url) if fires else contextlib.nullcontext():
        runtime = await open_runtime(settings, platforms=platforms)
        try:
            yield runtime
        finally:
            await runtime.close()


# Who the console and the CLI act as when the configuration names nobody to act as.
OPERATOR = "operator"


async def _person(runtime: Runtime, handle: str | None) -> Person:
    """Who a CLI command acts as: --as HANDLE (any configured person, any case, @ or not), else
    the first lead, admin or person configured, else the local operator."""
    settings = runtime.settings
    if handle is None:
        chosen = settings.first_leader() or next(iter(settings.people), None)
        handle = chosen.handle if chosen else OPERATOR
    handle = handle.lstrip("@").lower()
    async with runtime.sessions.begin() as session:
        person = await session.scalar(
            select(Person)
            .join(Identity)
            .where(Identity.platform == CONSOLE, func.lower(Identity.user_id) == handle)
        )
        if person is not None:
            return person
        if handle == OPERATOR and not settings.people:
            return await _operator(session, runtime.clock.now())
    if not settings.people:
        raise Failure(
            f"no person called @{handle}: the configuration has no [[people]]; leave out --as "
            f"to act as the local @{OPERATOR}, or add people (docs/configuration.md)"
        )
    known = ", ".join(p.handle for p in settings.people)
    raise Failure(f"no person called @{handle} in the configuration (known: {known})")


async def _operator(session: AsyncSession, now: datetime) -> Person:
    """The local operator: an admin who exists only in the console, for a configuration with
    no people (whoever runs the console can edit the configuration and the database anyway)."""
    taken = await session.scalar(select(Person).where(Person.handle == OPERATOR))
    if taken is not None:
        raise Failure(
            f"@{OPERATOR} is a person from chat, not the local operator: pass --as HANDLE"
        )
    person = Person(
        handle=OPERATOR,
        name="Local operator",
        role=Role.ADMIN,
        created_at=now,
        identities=[Identity(platform=CONSOLE, user_id=OPERATOR)],
    )
    session.add(person)
    await session.flush()
    return person


async def _console(settings: Settings, handle: str | None) -> int:
    # The console sees its notifications; the chat platforms get theirs when the bot sends them.
    async with _runtime(settings, [*settings.chat_platforms, CONSOLE], fires=True) as runtime:
        me = (await _person(runtime, handle)).handle
        console = Console(runtime, me)
        runtime.worker.senders.append(console)
        if sys.stdin.isatty():
            typer.echo(
                f"Liaison console, acting as @{me}. Type /help for commands, Ctrl-D to quit.",
                err=True,
            )
        return await console.run()


@app.command()
def run(ctx: typer.Context, config: ConfigOption = None) -> None:
    """Start the bot on every configured platform (the local console when none is)."""
    settings = _load(ctx, config)
    chat = settings.chat_platforms
    if not chat:
        typer.echo(
            "No chat platform is configured: starting the local console "
            "(docs/configuration.md explains how to add Slack or Discord).",
            err=True,
        )
        raise typer.Exit(_run(lambda: _console(settings, None)))

    # A server logs each command and delivery (at INFO); the console above keeps quiet.
    logs.for_server()

    async def work() -> int:
        async with _runtime(settings, chat, fires=True) as runtime:
            return await serve(runtime, chat)

    typer.echo(f"Starting Liaison on {' and '.join(chat)}.", err=True)
    raise typer.Exit(_run(work))


@app.command()
def console(
    ctx: typer.Context,
    config: ConfigOption = None,
    as_: Annotated[
        str | None,
        typer.Option(
            "--as",
            help="Act as this configured person (default: the first lead, else admin, else "
            "person; with no people configured, the local @operator).",
        ),
    ] = None,
) -> None:
    """Chat with Liaison in the terminal: type commands, see replies and notifications."""
    settings = _load(ctx, config)
    raise typer.Exit(_run(lambda: _console(settings, as_)))


@db_app.command("upgrade")
def db_upgrade(
    ctx: typer.Context,
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
    config: ConfigOption = None,
) -> None:
    """Migrate the database to the newest schema (or to REVISION)."""
    settings = _load(ctx, config)

    async def work() -> str | None:
        await db.upgrade(settings.database.url, revision)
        engine = create_engine(settings.database.url)
        try:
            return await db.current(engine)
        finally:
            await engine.dispose()

    typer.echo(f"database at revision {_run(work)}")


@db_app.command("current")
def db_current(ctx: typer.Context, config: ConfigOption = None) -> None:
    """Show the database's schema revision and the newest one; exit 1 if an upgrade is needed."""
    settings = _load(ctx, config)

    async def work() -> str | None:
        engine = create_engine(settings.database.url)
        try:
            return await db.current(engine)
        finally:
            await engine.dispose()

    at = _run(work)
    want = db.head()
    state = "up to date" if at == want else "needs `liaison db upgrade`"
    typer.echo(f"database at revision {at or 'none (empty)'}; newest is {want}: {state}")
    if at != want:
        # Scripts ask "is an upgrade needed?" by the status: 1 = yes (2 stays "could not tell").
        raise typer.Exit(1)


@asynccontextmanager
async def _context(runtime: Runtime, handle: str | None) -> AsyncIterator[Context]:
    """A command context outside chat (for the CLI), in one transaction."""
    actor = await _person(runtime, handle)
    async with runtime.postbox.transaction(runtime.clock.now()) as notifier:
        actor = await notifier.session.merge(actor)
        yield Context(notifier.session, actor, "cli", notifier)


def _platforms(settings: Settings) -> list[str]:
    """Where notifications written by a CLI command go: the chat platforms, else the console."""
    return settings.chat_platforms or [CONSOLE]


@map_app.command("import")
def map_import(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A .csv, .yaml or .yml map file.", exists=True)],
    config: ConfigOption = None,
    as_: Annotated[
        str | None,
        typer.Option("--as", help="Record the changes as this person (default: as the console)."),
    ] = None,
) -> None:
    """Load the ownership map from a file: every row is checked before anything is written."""
    settings = _load(ctx, config)

    async def work() -> str:
        rows = parse(read(file), format_for(str(file)))
        async with (
            _runtime(settings, _platforms(settings)) as runtime,
            _context(runtime, as_) as context,
        ):
            report = await import_rows(context, rows)
        return (
            f"imported {len(rows)} areas from {file}: {report.created} new, "
            f"{report.changed} changed, {report.unchanged} unchanged"
        )

    typer.echo(_run(work))


@map_app.command("export")
def map_export(
    ctx: typer.Context,
    config: ConfigOption = None,
    fmt: Annotated[
        Literal["csv", "yaml"], typer.Option("--format", "-f", help="csv or yaml.")
    ] = "csv",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """Write the whole ownership map as CSV or YAML."""
    from commands.ownership.mapfile import render as render_map

    settings = _load(ctx, config)

    async def work() -> str:
        async with (
            _runtime(settings, _platforms(settings)) as runtime,
            _context(runtime, None) as context,
        ):
            text = render_map(await export_rows(context), fmt)
        if output is not None:
            # Written inside _run, so a directory that is missing is said in one line.
            output.write_text(text, encoding="utf-8")
        return text

    text = _run(work)
    if output is None:
        sys.stdout.write(text)
    else:
        typer.echo(f"wrote {output}", err=True)


@outbox_app.command("failed")
def outbox_failed(ctx: typer.Context, config: ConfigOption = None) -> None:
    """List notifications that could not be delivered, with the reason."""
    settings = _load(ctx, config)

    async def work() -> list[str]:
        async with (
            _runtime(settings, _platforms(settings)) as runtime,
            runtime.sessions() as session,
        ):
            rows = await outbox.failures(session)
        return [
            f"{item.created_at:%Y-%m-%d %H:%M} {item.key} -> {d.platform} "
            f"{(item.channel and '#' + item.channel) or 'DM'}: {d.error}\n    "
            + render(Message.from_dict(item.payload)).replace("\n", "\n    ")
            for item, d in rows
        ]

    lines = _run(work)
    typer.echo("\n".join(lines) if lines else "no failed notifications")


# --- Slack ---------------------------------------------------------------------------------------


@slack_app.command("manifest")
def slack_manifest(
    ctx: typer.Context,
    config: ConfigOption = None,
    url: Annotated[
        str | None,
        typer.Option(
            "--url",
            help='The bot\'s public https base URL, for [slack] mode = "http"; Slack posts to '
            "URL/slack/events. Socket Mode needs none.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Print the Slack app manifest (YAML): paste it into "Create an app > From a manifest"."""
    from bot.slack.manifest import PLACEHOLDER_URL, manifest_yaml
    from commands import build_registry

    settings = _load(ctx, config)
    if url is not None and not url.startswith("https://"):
        _fail(f"--url must start with https:// (Slack only posts to https), got {url}")
    # Said on stderr, so the manifest on stdout can still be piped or pasted as it is.
    if settings.slack.mode == "socket" and url is not None:
        typer.echo(
            'liaison: note: --url is ignored: [slack] mode is "socket", where Slack sends '
            'everything over the socket; set mode = "http" to have Slack post to the URL',
            err=True,
        )
    elif settings.slack.mode == "http" and url is None:
        typer.echo(
            f"liaison: note: no --url: the manifest points Slack at {PLACEHOLDER_URL}; "
            "pass --url with the bot's public https address",
            err=True,
        )
    typer.echo(manifest_yaml(settings, build_registry(), url or PLACEHOLDER_URL), nl=False)


# --- GitHub --------------------------------------------------------------------------------------

github_app = typer.Typer(no_args_is_help=True, help="GitHub: try the webhook set-up.")
app.add_typer(github_app, name="github")


@github_app.command("test-delivery")
def github_test_delivery(
    ctx: typer.Context,
    event: Annotated[
        str,
        typer.Argument(
            help="ping, pull_request (labeled), pull_request_review or pull_request_review_comment"
        ),
    ],
    url: Annotated[
        str | None,
        typer.Option("--url", help="The webhook URL (default: this config's [http] port)."),
    ] = None,
    repository: Annotated[
        str, typer.Option("--repository", help="The sample's repository, owner/name.")
    ] = "liaison-test/sample",
    label: Annotated[str, typer.Option("--label", help="The sample's label.")] = "liaison-test",
    config: ConfigOption = None,
) -> None:
    """Post a signed sample delivery to a running bot, and print how it answered."""
    from bot.github.samples import EVENTS, deliver, sample

    settings = _load(ctx, config)
    secret = settings.github.webhook_secret
    if secret is None:
        typer.echo(
            "liaison: no webhook secret: set LIAISON_GITHUB_WEBHOOK_SECRET (docs/github.md)",
            err=True,
        )
        raise typer.Exit(2)
    if event not in EVENTS:
        typer.echo(f"liaison: no sample for {event!r} (samples: {', '.join(EVENTS)})", err=True)
        raise typer.Exit(2)
    host = settings.http.host if settings.http.host not in ("0.0.0.0", "::") else "127.0.0.1"
    target = url or f"http://{host}:{settings.http.port}/github/webhook"
    payload = sample(event, repository, label, "liaison-test")
    try:
        status, answer = _run(lambda: deliver(target, event, payload, secret.get_secret_value()))
    except OSError as exc:
        typer.echo(f"liaison: cannot reach {target}: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{status} {answer}")
    raise typer.Exit(0 if status < 300 else 1)


# --- Discord -------------------------------------------------------------------------------------

discord_app = typer.Typer(no_args_is_help=True, help="Discord: publish the slash commands.")
app.add_typer(discord_app, name="discord")


@discord_app.command("commands")
def discord_commands(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the JSON that sync sends to Discord.")
    ] = False,
) -> None:
    """Show the slash commands Liaison publishes on Discord (no token needed)."""
    import json

    from bot.discord.tree import command_payload
    from commands import build_registry

    payload = command_payload(build_registry())
    if as_json:
        typer.echo(json.dumps(payload, indent=2, ensure_ascii=False))
        return
    for command in payload:
        subs = [o for o in command.get("options", []) if o["type"] == 1]
        for sub in subs or [command]:
            name = f"/{command['name']} {sub['name']}" if subs else f"/{command['name']}"
            typer.echo(f"{name} — {sub['description']}")


@discord_app.command("sync")
def discord_sync(
    ctx: typer.Context,
    config: ConfigOption = None,
    guild: Annotated[
        int | None,
        typer.Option(
            "--guild", help="Sync to this server only (instant); default: [discord] guild."
        ),
    ] = None,
    everywhere: Annotated[
        bool, typer.Option("--global", help="Sync globally even if [discord] guild is set.")
    ] = False,
) -> None:
    """Publish the slash commands to Discord: to one server, or globally for production."""
    from bot.discord.publish import PublishError, publish
    from commands import build_registry

    settings = _load(ctx, config)
    token = settings.discord.token
    if token is None:
        typer.echo(
            "liaison: no Discord token: set LIAISON_DISCORD_TOKEN (see docs/discord.md)", err=True
        )
        raise typer.Exit(2)
    target = None if everywhere else guild or settings.discord.guild

    async def work() -> list[str]:
        try:
            return await publish(token.get_secret_value(), build_registry(), target)
        except PublishError as exc:
            raise Failure(str(exc)) from None

    names = _run(work)
    where = f"server {target} (available now)" if target else "all servers (global)"
    typer.echo(f"synced {len(names)} commands to {where}: " + ", ".join("/" + n for n in names))


# --- liaison demo ---------------------------------------------------------------------------------


@demo_app.command("seed")
def demo_seed(
    ctx: typer.Context,
    config: ConfigOption = None,
    force: Annotated[
        bool, typer.Option("--force", help="Seed even if the database already has data.")
    ] = False,
) -> None:
    """Fill the database with a month of realistic history between the demo orgs, ending now."""
    from bot.demo import SeedError, seed

    settings = _load(ctx, config)

    async def work() -> str:
        try:
            report = await seed(settings, platforms=_platforms(settings), force=force)
        except SeedError as exc:
            raise Failure(str(exc)) from None
        return (
            f"seeded {report.reviews} reviews, {report.areas} areas, {report.meetings} meetings, "
            f"{report.actions} action items and {report.roadmap_items} roadmap items from "
            f"{len(report.commands)} commands; {report.notifications} notifications kept as "
            f"history ({report.failed} marked failed). Try /digest preview in `liaison console`."
        )

    typer.echo(_run(work))


def main() -> None:
    """Entry point of the `liaison` console script."""
    app()
