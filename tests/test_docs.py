"""The documentation and the Docker image keep up with the code.

docs/commands.md must show every command's usage line exactly as /help prints it, and
docs/configuration.md must document every key the configuration accepts, in the section it
belongs to, and no key the code does not accept. The Dockerfile must pass hadolint, copy every
package the project installs, and its entry point must migrate before it runs a command.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
import types
import typing
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import BaseModel

from bot.config import (
    ChannelSettings,
    ChecklistSettings,
    DatabaseSettings,
    DigestSettings,
    DiscordSettings,
    EscalationLevel,
    GitHubRuleSettings,
    GitHubSettings,
    HandoffSettings,
    MeetingSettings,
    OrgSettings,
    OwnershipSettings,
    PersonSettings,
    PolicySettings,
    RepeatSettings,
    Settings,
    SlackSettings,
)
from commands import build_registry
from commands.core.registry import Command

REPO = Path(__file__).resolve().parent.parent
COMMANDS_DOC = REPO / "docs" / "commands.md"
CONFIG_DOC = REPO / "docs" / "configuration.md"
DOCKERFILE = REPO / "Dockerfile"
ENTRYPOINT = REPO / "docker-entrypoint.sh"
HADOLINT = Path(sys.executable).parent / "hadolint"

COMMANDS = build_registry().commands()
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*$")
_KEY_ROW = re.compile(r"^\|\s*`([A-Za-z0-9_]+)`\s*\|")


# --- docs/commands.md ---------------------------------------------------------------------------


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.name)
def test_every_command_usage_line_is_in_the_commands_doc(command: Command) -> None:
    assert command.usage in COMMANDS_DOC.read_text(encoding="utf-8"), (
        f"docs/commands.md lacks the usage line of /{command.name}: {command.usage}"
    )


def test_the_commands_doc_has_no_section_for_a_command_that_does_not_exist() -> None:
    names = {c.name for c in COMMANDS}
    documented = [
        m[1]
        for heading in _headings(COMMANDS_DOC.read_text(encoding="utf-8"))
        if (m := re.fullmatch(r"`/([a-z][a-z ]*)`", heading))
    ]
    assert documented, "docs/commands.md has no `### `/command`` sections"
    stale = [n for n in documented if n not in names]
    assert stale == [], f"docs/commands.md documents commands that do not exist: {stale}"


# --- docs/configuration.md ----------------------------------------------------------------------


def _models(model: type[BaseModel], prefix: str = "") -> Iterator[tuple[str, type[BaseModel]]]:
    """Every section model under `model`, with its TOML header: [database], [[orgs]], ..."""
    for name, field in model.model_fields.items():
        path = f"{prefix}.{name}" if prefix else name
        for nested, is_list in _nested_models(field.annotation):
            yield (f"[[{path}]]" if is_list else f"[{path}]"), nested
            yield from _models(nested, path)


def _nested_models(
    annotation: object, in_list: bool = False
) -> Iterator[tuple[type[BaseModel], bool]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation, in_list
        return
    origin = typing.get_origin(annotation)
    is_list = in_list or origin in (list, tuple)
    if origin is not None or isinstance(annotation, types.UnionType):
        for arg in typing.get_args(annotation):
            yield from _nested_models(arg, is_list)


SECTIONS = dict(_models(Settings))


def _headings(text: str) -> list[str]:
    return [m[2] for line in text.splitlines() if (m := _HEADING.match(line))]


def _section(text: str, header: str) -> str:
    """The text under the heading `` `header` ``, up to the next heading of any level."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = _HEADING.match(line)
        if m and m[2] == f"`{header}`":
            body = []
            for following in lines[i + 1 :]:
                if _HEADING.match(following):
                    break
                body.append(following)
            return "\n".join(body)
    raise AssertionError(f"docs/configuration.md has no heading `{header}`")


def _documented_keys(header: str) -> list[str]:
    """The keys in the first table of a section whose first column is "Key"."""
    lines = iter(_section(CONFIG_DOC.read_text(encoding="utf-8"), header).splitlines())
    for line in lines:
        if re.match(r"^\|\s*Key\s*\|", line):
            break
    else:
        raise AssertionError(f"docs/configuration.md, section `{header}`, has no | Key | table")
    keys = []
    for line in lines:
        if not line.startswith("|"):
            break
        if m := _KEY_ROW.match(line):
            keys.append(m[1])
    return keys


def test_every_section_model_of_the_settings_is_found() -> None:
    # Guards the walk below: if it found nothing, the key tests would pass vacuously.
    expected = {
        DatabaseSettings,
        OrgSettings,
        PersonSettings,
        ChannelSettings,
        PolicySettings,
        EscalationLevel,
        RepeatSettings,
        SlackSettings,
        GitHubSettings,
        GitHubRuleSettings,
        DiscordSettings,
        MeetingSettings,
        DigestSettings,
        HandoffSettings,
        ChecklistSettings,
        OwnershipSettings,
    }
    assert expected <= set(SECTIONS.values())


@pytest.mark.parametrize("header", list(SECTIONS))
def test_every_config_key_is_documented_in_its_section(header: str) -> None:
    model = SECTIONS[header]
    missing = [key for key in model.model_fields if key not in _documented_keys(header)]
    assert missing == [], f"docs/configuration.md, section `{header}`, lacks rows for {missing}"


@pytest.mark.parametrize("header", list(SECTIONS))
def test_the_config_doc_lists_no_key_the_code_does_not_accept(header: str) -> None:
    model = SECTIONS[header]
    extra = [key for key in _documented_keys(header) if key not in model.model_fields]
    assert extra == [], f"docs/configuration.md, section `{header}`, documents unknown {extra}"


def test_every_top_level_config_key_has_a_section() -> None:
    headers = {h.strip("[]") for h in SECTIONS}
    assert set(Settings.model_fields) <= headers


# --- Dockerfile ---------------------------------------------------------------------------------


def test_the_dockerfile_passes_hadolint() -> None:
    if not HADOLINT.exists():
        pytest.skip(f"hadolint is not installed at {HADOLINT} (pip install '.[test]')")
    done = subprocess.run(
        [str(HADOLINT), "--no-color", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


def test_the_image_copies_every_package_the_project_installs() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = project["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = sorted(
        p.name
        for p in REPO.iterdir()
        if (p / "__init__.py").is_file()
        and any(re.fullmatch(pattern.replace("*", ".*"), p.name) for pattern in patterns)
    )
    assert packages, "found no packages to install"
    dockerfile = DOCKERFILE.read_text(encoding="utf-8")
    allowed = (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
    for name in packages:
        assert f"COPY {name} ./{name}" in dockerfile, f"the Dockerfile does not copy {name}/"
        assert f"!{name}/" in allowed, f".dockerignore keeps {name}/ out of the build context"


def _entrypoint(tmp_path: Path, *args: str, **env: str) -> list[str]:
    """Run docker-entrypoint.sh with a stand-in `liaison` that records each call."""
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("bash is not installed")
    calls = tmp_path / "calls"
    fake = tmp_path / "liaison"
    fake.write_text(f'#!{bash}\necho "$*" >> {calls}\n', encoding="utf-8")
    fake.chmod(0o755)
    environ = {"PATH": f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}", **env}
    subprocess.run([bash, str(ENTRYPOINT), *args], env=environ, check=True, timeout=30)
    return calls.read_text(encoding="utf-8").splitlines()


def test_the_entrypoint_migrates_then_runs_the_command(tmp_path: Path) -> None:
    assert _entrypoint(tmp_path, "run") == ["db upgrade", "run"]


def test_the_entrypoint_gives_the_migration_the_same_global_options(tmp_path: Path) -> None:
    calls = _entrypoint(tmp_path, "-c", "/etc/liaison.toml", "-v", "console", "--as", "carol")
    assert calls == [
        "-c /etc/liaison.toml -v db upgrade",
        "-c /etc/liaison.toml -v console --as carol",
    ]


def test_the_entrypoint_migrates_with_a_config_given_after_the_command(tmp_path: Path) -> None:
    assert _entrypoint(tmp_path, "console", "--as", "carol", "-c", "/etc/l.toml") == [
        "-c /etc/l.toml db upgrade",
        "console --as carol -c /etc/l.toml",
    ]


def test_the_entrypoint_runs_db_commands_alone(tmp_path: Path) -> None:
    assert _entrypoint(tmp_path, "db", "upgrade") == ["db upgrade"]


def test_the_entrypoint_skips_the_migration_when_asked(tmp_path: Path) -> None:
    assert _entrypoint(tmp_path, "run", MIGRATE_ON_START="0") == ["run"]
