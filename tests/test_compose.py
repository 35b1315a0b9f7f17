"""`compose.yaml` is valid Compose, and wires what docs/operations.md says it wires.

No Docker engine runs here, so `docker compose config` cannot check it: the file is validated
against the Compose Specification's own JSON schema (vendored in tests/compose/, see its
README), then read for the deployment's promises: the migration runs once before the
replicas, the replicas do not migrate, and the proxy sends Slack's requests to all of them.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator
from pydantic import SecretStr

from bot.config import load_settings
from tests.conftest import REPO
from tests.harness import DEMO

SCHEMA = Path(__file__).parent / "compose" / "compose-spec.json"


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO / "compose.yaml").read_text(encoding="utf-8"))
    return loaded


def test_compose_file_is_valid_against_the_compose_specification_schema() -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    Draft7Validator.check_schema(schema)
    errors = sorted(Draft7Validator(schema).iter_errors(compose()), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def test_the_schema_check_catches_a_wrong_file() -> None:
    broken = compose()
    broken["services"]["bot"]["restarts"] = broken["services"]["bot"].pop("restart")
    broken["services"]["bot"]["depends_on"]["migrate"]["condition"] = "when_ready"
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    assert len(list(Draft7Validator(schema).iter_errors(broken))) == 2


def test_migration_runs_once_before_two_replicas_that_do_not_migrate() -> None:
    services = compose()["services"]
    assert set(services) == {"db", "migrate", "bot", "proxy"}
    migrate, bot = services["migrate"], services["bot"]
    assert migrate["command"] == ["db", "upgrade"] and migrate["restart"] == "no"
    assert migrate["depends_on"]["db"]["condition"] == "service_healthy"
    assert bot["command"] == ["run"] and bot["deploy"]["replicas"] == 2
    assert bot["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert bot["environment"]["MIGRATE_ON_START"] == "0"
    # Both use one database URL, the PostgreSQL service's.
    url = bot["environment"]["LIAISON_DATABASE_URL"]
    assert url == migrate["environment"]["LIAISON_DATABASE_URL"]
    assert url.startswith("postgresql+asyncpg://liaison:") and url.endswith("@db:5432/liaison")


def test_the_replicas_environment_is_a_configuration_liaison_accepts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bot = compose()["services"]["bot"]
    for name, value in bot["environment"].items():
        # ${VAR:?...} comes from .env: any value will do to check the key is one Liaison reads.
        filled = re.sub(r"\$\{([A-Z_]+):\?[^}]*\}", "filled", str(value))
        monkeypatch.setenv(name, filled)
    settings = load_settings(str(DEMO))
    assert settings.database.url.startswith("postgresql+asyncpg://liaison:filled@db")
    assert settings.slack.mode == "http" and settings.http.port == 3000
    assert settings.slack.bot_token == SecretStr("filled")
    assert settings.slack.signing_secret == SecretStr("filled")
    assert os.environ["MIGRATE_ON_START"] == "0"  # read by docker-entrypoint.sh


def test_the_proxy_sends_slack_and_github_to_every_replica_and_nothing_else() -> None:
    proxy = compose()["services"]["proxy"]
    # The file in the repository is nginx's configuration in the container.
    assert proxy["volumes"] == ["./deploy/nginx.conf:/etc/nginx/conf.d/default.conf:ro"]
    conf = (REPO / "deploy" / "nginx.conf").read_text(encoding="utf-8")
    # The service name resolves to every replica, re-resolved as replicas come and go.
    assert "resolver 127.0.0.11" in conf and "set $bot http://bot:3000;" in conf
    locations = re.findall(r"location (= )?(\S+) \{([^}]*)\}", conf)
    routed = {path: "proxy_pass $bot;" in body for _, path, body in locations}
    assert routed == {"/slack/events": True, "/github/webhook": True, "/": False}
    assert proxy["depends_on"]["bot"]["condition"] == "service_healthy"
