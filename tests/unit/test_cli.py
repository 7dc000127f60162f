"""The `chaosgw` command line: what its help tells an operator."""

import pytest

from controlplane.cli import main


def test_extauthz_help_names_every_credential_kind_it_decides(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["extauthz", "--help"])

    assert exited.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for kind in ("API keys", "JWTs", "sessions", "OAuth 2.0 introspection", "owner rules"):
        assert kind in text
