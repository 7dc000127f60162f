"""TlsDirectory: reads ca.crt/tls.crt/tls.key, notices replaced files, never takes a half-written
set, never prints the key."""

from pathlib import Path

import pytest

from tlsfiles.directory import KEY_FILE, TlsDirectory, TlsDirectoryError, TlsFiles, write_directory
from tlsfiles.issue import LeafRequest, issue_leaf, new_ca


def _files(common_name: str = "leaf") -> TlsFiles:
    ca = new_ca()
    leaf = issue_leaf(ca, LeafRequest(common_name, server=True))
    return TlsFiles(ca.certificate, leaf.certificate, leaf.key)


def test_a_replaced_set_is_read_once_it_is_complete(tmp_path: Path) -> None:
    first, second = _files(), _files()
    write_directory(tmp_path, first)
    directory = TlsDirectory(tmp_path, check_interval=0)
    assert directory.files == first
    assert directory.changed() is None

    # A certificate without its key yet is not taken: the old set stays.
    (tmp_path / "tls.crt").write_bytes(second.certificate)
    assert directory.changed() is None
    assert directory.files == first

    write_directory(tmp_path, second)
    assert directory.changed() == second
    assert directory.files == second


def test_the_key_is_private_and_never_in_a_repr(tmp_path: Path) -> None:
    files = _files()
    write_directory(tmp_path, files)
    assert (tmp_path / KEY_FILE).stat().st_mode & 0o777 == 0o600
    assert "PRIVATE" not in repr(files)
    assert "PRIVATE" not in repr(TlsDirectory(tmp_path).files)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    write_directory(tmp_path, _files())
    (tmp_path / "ca.crt").unlink()
    with pytest.raises(TlsDirectoryError, match=r"ca\.crt"):
        TlsDirectory(tmp_path)


def test_a_key_of_another_certificate_is_refused(tmp_path: Path) -> None:
    files, other = _files(), _files()
    write_directory(tmp_path, TlsFiles(files.ca, files.certificate, other.key))
    with pytest.raises(TlsDirectoryError, match=r"tls\.crt does not match tls\.key"):
        TlsDirectory(tmp_path)
