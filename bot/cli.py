"""The `liaison` command: run the bot, the console, migrations, and map import/export."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import typer
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

from bot import db
from bot.config import ConfigError, Settings, load_settings
from bot.console import PLATFORM as CONSOLE
from bot.console import Console
from bot.plaintext import render
from bot.platforms import PlatformError, serve
from bot.runtime import Runtime, open_runtime
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
from storage.models import Identity, Person

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
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    ctx.obj = Options(config)


def _run(work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run async work, turning expected failures into one clear line and exit status 2."""
    try:
        return asyncio.run(work())
    except (Failure, db.NotMigrated, MapFileError, PlatformError) as exc:
        for text in str(exc).splitlines():
            typer.echo(f"liaison: {text}", err=True)
        raise typer.Exit(2) from None
    except (DBAPIError, OSError) as exc:
        # The database cannot be reached or opened: say so in one line, not a traceback.
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        typer.echo(f"liaison: cannot use the database: {reason}", err=True)
        typer.echo("liaison: check [database] url (or LIAISON_DATABASE_URL)", err=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


def _load(ctx: typer.Context) -> Settings:
    try:
        options: Options = ctx.obj
        return load_settings(options.config)
    except ConfigError as exc:
        for text in str(exc).splitlines():
            typer.echo(f"liaison: config error: {text}", err=True)
        raise typer.Exit(2) from None


@asynccontextmanager
async def _runtime(settings: Settings, platforms: list[str]) -> AsyncIterator[Runtime]:
    runtime = await open_runtime(settings, platforms=platforms)
    try:
        yield runtime
    finally:
        await runtime.close()


async def _console_handle(runtime: Runtime, handle: str | None) -> str:
    settings = runtime.settings
    if handle is None:
        leader = settings.first_leader()
        if leader is None:
            raise Failure("no lead or admin in the configuration: pass --as HANDLE")
        return leader.handle
    handle = handle.lstrip("@").lower()
    async with runtime.sessions() as session:
        found = await session.scalar(
            select(Identity.user_id).where(
                Identity.platform == CONSOLE, func.lower(Identity.user_id) == handle
            )
        )
        if found is None:
            known = ", ".join(p.handle for p in settings.people)
            raise Failure(f"no person called @{handle} in the configuration (known: {known})")
    return found


async def _console(settings: Settings, handle: str | None) -> int:
    # The console sees its notifications; the chat platforms get theirs when the bot sends them.
    async with _runtime(settings, [*settings.chat_platforms, CONSOLE]) as runtime:
        me = await _console_handle(runtime, handle)
        console = Console(runtime, me)
        runtime.worker.senders.append(console)
        if sys.stdin.isatty():
            typer.echo(
                f"Liaison console, acting as @{me}. Type /help for commands, Ctrl-D to quit.",
                err=True,
            )
        return await console.run()


@app.command()
def run(ctx: typer.Context) -> None:
    """Start the bot on every configured platform (the local console when none is)."""
    settings = _load(ctx)
    chat = settings.chat_platforms
    if not chat:
        typer.echo(
            "No chat platform is configured: starting the local console "
            "(docs/configuration.md explains how to add Slack or Discord).",
            err=True,
        )
        raise typer.Exit(_run(lambda: _console(settings, None)))

    async def work() -> int:
        async with _runtime(settings, chat) as runtime:
            return await serve(runtime, chat)

    typer.echo(f"Starting Liaison on {' and '.join(chat)}.", err=True)
    raise typer.Exit(_run(work))


@app.command()
def console(
    ctx: typer.Context,
    as_: Annotated[
        str | None, typer.Option("--as", help="Act as this person (default: the first admin/lead).")
    ] = None,
) -> None:
    """Chat with Liaison in the terminal: type commands, see replies and notifications."""
    settings = _load(ctx)
    raise typer.Exit(_run(lambda: _console(settings, as_)))


@db_app.command("upgrade")
def db_upgrade(
    ctx: typer.Context, revision: Annotated[str, typer.Argument(help="Target revision.")] = "head"
) -> None:
    """Migrate the database to the newest schema (or to REVISION)."""
    settings = _load(ctx)

    async def work() -> str | None:
        await db.upgrade(settings.database.url, revision)
        engine = create_engine(settings.database.url)
        try:
            return await db.current(engine)
        finally:
            await engine.dispose()

    typer.echo(f"database at revision {_run(work)}")


@db_app.command("current")
def db_current(ctx: typer.Context) -> None:
    """Show the database's schema revision and the newest one."""
    settings = _load(ctx)

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


async def _as_person(runtime: Runtime, handle: str | None) -> Person:
    async with runtime.sessions() as session:
        if handle is None:
            leader = runtime.settings.first_leader()
            if leader is None:
                raise Failure("no lead or admin in the configuration: pass --as HANDLE")
            handle = leader.handle
        person = await session.scalar(select(Person).where(Person.handle == handle.lstrip("@")))
        if person is None:
            raise Failure(f"no person called @{handle.lstrip('@')}")
        return person


@asynccontextmanager
async def _context(runtime: Runtime, handle: str | None) -> AsyncIterator[Context]:
    """A command context outside chat (for the CLI), in one transaction."""
    actor = await _as_person(runtime, handle)
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
    as_: Annotated[
        str | None, typer.Option("--as", help="Record the changes as this person.")
    ] = None,
) -> None:
    """Load the ownership map from a file: every row is checked before anything is written."""
    settings = _load(ctx)

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
    fmt: Annotated[
        Literal["csv", "yaml"], typer.Option("--format", "-f", help="csv or yaml.")
    ] = "csv",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """Write the whole ownership map as CSV or YAML."""
    from commands.ownership.mapfile import render as render_map

    settings = _load(ctx)

    async def work() -> str:
        async with (
            _runtime(settings, _platforms(settings)) as runtime,
            _context(runtime, None) as context,
        ):
            return render_map(await export_rows(context), fmt)

    text = _run(work)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {output}", err=True)


@outbox_app.command("failed")
def outbox_failed(ctx: typer.Context) -> None:
    """List notifications that could not be delivered, with the reason."""
    settings = _load(ctx)

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
    url: Annotated[
        str,
        typer.Option(
            "--url",
            help="The bot's public https base URL (http mode); Slack posts to URL/slack/events.",
        ),
    ] = "https://liaison.example.com",
) -> None:
    """Print the Slack app manifest (YAML): paste it into "Create an app > From a manifest"."""
    from bot.slack.manifest import manifest_yaml
    from commands import build_registry

    settings = _load(ctx)
    if not url.startswith("https://"):
        typer.echo(
            f"liaison: --url must start with https:// (Slack only posts to https), got {url}",
            err=True,
        )
        raise typer.Exit(2)
    typer.echo(manifest_yaml(settings, build_registry(), url), nl=False)


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
) -> None:
    """Post a signed sample delivery to a running bot, and print how it answered."""
    from bot.github.samples import EVENTS, deliver, sample

    settings = _load(ctx)
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

    settings = _load(ctx)
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
    force: Annotated[
        bool, typer.Option("--force", help="Seed even if the database already has data.")
    ] = False,
) -> None:
    """Fill the database with a month of realistic history between the demo orgs, ending now."""
    from bot.demo import SeedError, seed

    settings = _load(ctx)

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
