"""`chaosgw migrate`, `chaosgw --version`, and a production control plane on an old schema."""

import os
import secrets
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from controlplane.store import Database
from controlplane.store.database import SchemaState
from tests.conftest import DatabaseFactory


def chaosgw(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CHAOSGW_")}
    clean.pop("DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "controlplane.cli", *args],
        env=clean | env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def schema_of(url: str) -> SchemaState:
    database = Database(url)
    try:
        return database.schema_state()
    finally:
        database.dispose()


def test_version_prints_the_installed_release() -> None:
    result = chaosgw("--version", env={})
    assert result.returncode == 0
    assert result.stdout.strip() == f"chaosgw {metadata.version('chaos-gateway')}"


def test_migrate_brings_the_schema_up_to_date_and_again_changes_nothing(
    database_factory: DatabaseFactory,
) -> None:
    url = database_factory.new_url().render_as_string(hide_password=False)
    for _ in range(2):
        result = chaosgw("migrate", env={"DATABASE_URL": url})
        assert result.returncode == 0, result.stderr
        assert "up to date" in result.stdout
        assert schema_of(url) is SchemaState.CURRENT


def test_migrate_reads_the_database_url_from_a_file(
    database_factory: DatabaseFactory, tmp_path: Path
) -> None:
    url = database_factory.new_url().render_as_string(hide_password=False)
    (tmp_path / "database-url").write_text(url + "\n")
    result = chaosgw("migrate", env={"DATABASE_URL_FILE": str(tmp_path / "database-url")})
    assert result.returncode == 0, result.stderr
    assert schema_of(url) is SchemaState.CURRENT


def test_a_setting_and_its_file_together_are_refused(tmp_path: Path) -> None:
    (tmp_path / "url").write_text("sqlite:///x.db")
    result = chaosgw(
        "migrate",
        env={"DATABASE_URL": "sqlite:///y.db", "DATABASE_URL_FILE": str(tmp_path / "url")},
    )
    assert result.returncode == 2
    assert "both DATABASE_URL and DATABASE_URL_FILE are set" in result.stderr


def test_a_production_control_plane_refuses_a_schema_that_was_not_migrated(
    database_factory: DatabaseFactory, tmp_path: Path
) -> None:
    url = database_factory.new_url().render_as_string(hide_password=False)
    (tmp_path / "token").write_text(secrets.token_urlsafe(32))
    env = {
        "DATABASE_URL": url,
        "CHAOSGW_MODE": "production",
        # The admin token from a file: the schema check, not the token, stops this start.
        "CHAOSGW_ADMIN_TOKEN_FILE": str(tmp_path / "token"),
        "CHAOSGW_API_KEY_SECRET": secrets.token_urlsafe(32),
        # Production refuses a plaintext ADS port unless told why (once mTLS exists).
        "CHAOSGW_XDS_PLAINTEXT_REASON": "schema test: never serves",
        "CHAOSGW_ADMIN_PORT": "0",
        "CHAOSGW_XDS_PORT": "0",
    }
    result = chaosgw("controlplane", env=env)
    assert result.returncode == 2
    assert "run `chaosgw migrate` first" in result.stderr
    assert schema_of(url) is SchemaState.BEHIND
