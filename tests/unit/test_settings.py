"""Settings: validated at start, insecure defaults refused outside development mode."""

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from controlplane.settings import Settings
from tlsfiles.generate import Plan, generate


@pytest.fixture(autouse=True)
def _plaintext_xds(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about other settings: xDS without TLS is allowed, with a reason."""
    monkeypatch.setenv("CHAOSGW_XDS_PLAINTEXT_REASON", "unit test")


@pytest.fixture
def production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAOSGW_MODE", "production")
    monkeypatch.setenv("CHAOSGW_ADMIN_TOKEN", "x" * 32)
    monkeypatch.setenv("CHAOSGW_API_KEY_SECRET", "y" * 32)
    monkeypatch.delenv("CHAOSGW_XDS_PLAINTEXT_REASON")


@pytest.mark.usefixtures("production")
def test_production_refuses_plaintext_xds_unless_told_why(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with pytest.raises(ValidationError, match="set CHAOSGW_XDS_TLS_DIR"):
        Settings()
    monkeypatch.setenv("CHAOSGW_XDS_PLAINTEXT_REASON", "the mesh's sidecars encrypt it")
    assert Settings().xds_tls_dir is None
    monkeypatch.delenv("CHAOSGW_XDS_PLAINTEXT_REASON")
    generate(tmp_path, Plan(("default",)))
    monkeypatch.setenv("CHAOSGW_XDS_TLS_DIR", str(tmp_path / "controlplane"))
    assert Settings().xds_tls_dir == tmp_path / "controlplane"


@pytest.mark.usefixtures("production")
def test_a_tls_dir_without_its_files_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CHAOSGW_XDS_TLS_DIR", str(tmp_path))
    with pytest.raises(ValidationError, match=r"CHAOSGW_XDS_TLS_DIR: .*ca\.crt"):
        Settings()


def test_development_serves_plaintext_xds_on_loopback_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CHAOSGW_MODE", "development")
    monkeypatch.delenv("CHAOSGW_XDS_PLAINTEXT_REASON")
    monkeypatch.setenv("CHAOSGW_XDS_HOST", "::1")
    assert Settings().xds_host == "::1"
    monkeypatch.setenv("CHAOSGW_XDS_HOST", "0.0.0.0")
    with pytest.raises(ValidationError, match=r"plaintext xDS on 0\.0\.0\.0"):
        Settings()


def test_the_envoy_tls_dir_is_absolute(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAOSGW_MODE", "development")
    monkeypatch.setenv("CHAOSGW_ENVOY_TLS_DIR", "certs/envoy")
    with pytest.raises(ValidationError, match="CHAOSGW_ENVOY_TLS_DIR must be an absolute path"):
        Settings()


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
