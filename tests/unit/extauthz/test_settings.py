"""The auth service reads the sessions' Redis from its own variable and the key prefix from the
control plane's, so the two cannot disagree on where sessions are."""

import pytest

from controlplane.settings import Settings as ControlPlaneSettings
from extauthz.settings import Settings


def test_sessions_settings_are_shared_with_the_control_plane(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CHAOSGW_MODE", "development")
    monkeypatch.setenv("CHAOSGW_API_KEY_SECRET", "z" * 32)
    monkeypatch.setenv("CHAOSGW_EXTAUTHZ_REDIS_URL", "redis://10.0.0.5:6380/2")
    monkeypatch.setenv("CHAOSGW_SESSIONS_REDIS_URL", "redis://10.0.0.5:6380/2")
    monkeypatch.setenv("CHAOSGW_SESSIONS_KEY_PREFIX", "shard-a:")

    service, plane = Settings(), ControlPlaneSettings()

    assert service.redis_url == plane.sessions_redis_url == "redis://10.0.0.5:6380/2"
    assert service.sessions_key_prefix == plane.sessions_key_prefix == "shard-a:"
    assert service.redis_timeout_seconds < plane.extauthz_timeout_seconds
