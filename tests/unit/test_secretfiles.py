"""Settings from files: NAME_FILE=/path gives NAME the file's content, for mounted secrets."""

from pathlib import Path

import pytest

from controlplane.secretfiles import SecretFileError, apply_secret_files


def secret(tmp_path: Path, content: str) -> str:
    path = tmp_path / "secret"
    path.write_text(content)
    return str(path)


def test_a_chaosgw_setting_is_read_from_its_file_without_the_trailing_newline(
    tmp_path: Path,
) -> None:
    environ = {"CHAOSGW_ADMIN_TOKEN_FILE": secret(tmp_path, "token with spaces \n")}
    assert apply_secret_files(environ) == ["CHAOSGW_ADMIN_TOKEN"]
    assert environ == {"CHAOSGW_ADMIN_TOKEN": "token with spaces "}


def test_database_url_is_read_from_its_file(tmp_path: Path) -> None:
    environ = {"DATABASE_URL_FILE": secret(tmp_path, "postgresql://u:p@db/gw\r\n")}
    apply_secret_files(environ)
    assert environ == {"DATABASE_URL": "postgresql://u:p@db/gw"}


def test_other_file_variables_are_left_alone(tmp_path: Path) -> None:
    environ = {"KUBECONFIG_FILE": "/nowhere", "OTHER_FILE": "/nowhere", "CHAOSGW_MODE": "x"}
    assert apply_secret_files(environ) == []
    assert environ == {"KUBECONFIG_FILE": "/nowhere", "OTHER_FILE": "/nowhere", "CHAOSGW_MODE": "x"}


def test_both_the_setting_and_its_file_is_an_error_naming_both(tmp_path: Path) -> None:
    environ = {"CHAOSGW_API_KEY_SECRET": "a", "CHAOSGW_API_KEY_SECRET_FILE": secret(tmp_path, "b")}
    with pytest.raises(
        SecretFileError, match="both CHAOSGW_API_KEY_SECRET and CHAOSGW_API_KEY_SECRET_FILE"
    ):
        apply_secret_files(environ)


def test_an_unreadable_file_is_an_error_naming_the_variable(tmp_path: Path) -> None:
    environ = {"CHAOSGW_ADMIN_TOKEN_FILE": str(tmp_path / "missing")}
    with pytest.raises(SecretFileError, match="CHAOSGW_ADMIN_TOKEN_FILE: cannot read"):
        apply_secret_files(environ)
