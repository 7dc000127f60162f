"""Settings: validated at start, insecure defaults refused outside development mode."""

import subprocess
import sys

import pytest
from pydantic import ValidationError

from controlplane.settings import Settings


def test_production_is_the_default_and_needs_a_long_admin_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CHAOSGW_MODE", raising=False)
    monkeypatch.delenv("CHAOSGW_ADMIN_TOKEN", raising=False)
    with pytest.raises(ValidationError, match="CHAOSGW_ADMIN_TOKEN"):
        Settings()
    monkeypatch.setenv("CHAOSGW_ADMIN_TOKEN", "short")
    with pytest.raises(ValidationError, match="at least 24"):
        Settings()
    monkeypatch.setenv("CHAOSGW_ADMIN_TOKEN", "x" * 32)
    monkeypatch.setenv("CHAOSGW_API_KEY_SECRET", "y" * 32)
    assert Settings().mode == "production"


def test_production_needs_a_long_api_key_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHAOSGW_MODE", raising=False)
    monkeypatch.setenv("CHAOSGW_ADMIN_TOKEN", "x" * 32)
    monkeypatch.setenv("CHAOSGW_API_KEY_SECRET", "y" * 31)
    with pytest.raises(ValidationError, match="CHAOSGW_API_KEY_SECRET"):
        Settings()
    monkeypatch.setenv("CHAOSGW_MODE", "development")
    monkeypatch.delenv("CHAOSGW_API_KEY_SECRET")
    assert Settings().api_key_secret.get_secret_value() == ""


def test_development_mode_allows_an_empty_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAOSGW_MODE", "development")
    monkeypatch.delenv("CHAOSGW_ADMIN_TOKEN", raising=False)
    assert Settings().admin_token.get_secret_value() == ""


def test_the_secrets_never_show_in_the_settings_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAOSGW_ADMIN_TOKEN", "s3cret-token-value-0123456789")
    monkeypatch.setenv("CHAOSGW_API_KEY_SECRET", "hidden-api-key-secret-0123456789abcdef")
    shown = repr(Settings())
    assert "s3cret" not in shown
    assert "hidden" not in shown


def test_the_control_plane_refuses_to_start_without_a_token() -> None:
    env = {"PATH": "/usr/bin:/bin", "CHAOSGW_MODE": "production"}
    result = subprocess.run(
        [sys.executable, "-m", "controlplane.cli", "controlplane"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "CHAOSGW_ADMIN_TOKEN must be set" in result.stderr


@pytest.mark.parametrize(
    ("mode", "given", "expected"),
    [
        ("development", None, True),
        ("production", None, False),
        ("production", "true", True),
        ("development", "false", False),
    ],
)
def test_migrating_at_start_is_the_development_default_only(
    monkeypatch: pytest.MonkeyPatch, mode: str, given: str | None, expected: bool
) -> None:
    monkeypatch.setenv("CHAOSGW_MODE", mode)
    monkeypatch.setenv("CHAOSGW_ADMIN_TOKEN", "a" * 32)
    monkeypatch.setenv("CHAOSGW_API_KEY_SECRET", "b" * 64)
    if given is None:
        monkeypatch.delenv("CHAOSGW_MIGRATE_ON_START", raising=False)
    else:
        monkeypatch.setenv("CHAOSGW_MIGRATE_ON_START", given)
    assert Settings().migrates_on_start() is expected
