"""A directory of TLS files (ca.crt, tls.crt, tls.key: a Kubernetes TLS Secret plus its CA)
that notices when they change, so rotated certificates are used without a restart."""

import os
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

CA_FILE = "ca.crt"
CERT_FILE = "tls.crt"
KEY_FILE = "tls.key"
FILES = (CA_FILE, CERT_FILE, KEY_FILE)
# How often a directory is looked at again, at most: new connections ask for every handshake.
CHECK_INTERVAL_SECONDS = 1.0


class TlsDirectoryError(Exception):
    """The directory's files are missing or do not make a certificate with its key."""


@dataclass(frozen=True)
class TlsFiles:
    """The directory's contents, PEM: the trusted CA bundle, the certificate chain and its key."""

    ca: bytes
    certificate: bytes
    key: bytes

    def __repr__(self) -> str:  # never print the key
        return f"TlsFiles(ca={len(self.ca)} bytes, certificate={len(self.certificate)} bytes)"


class TlsDirectory:
    """Reads the files once, and again when they change (a Kubernetes Secret volume swaps a
    symlink; cert-manager or `chaosgw certs` replace files): `changed()` says when."""

    def __init__(self, path: Path | str, *, check_interval: float = CHECK_INTERVAL_SECONDS) -> None:
        self.path = Path(path)
        self._check_interval = check_interval
        self._stamp = self._fingerprint()
        self._files = self._read()
        self._checked_at = time.monotonic()

    def file(self, name: str) -> Path:
        return self.path / name

    @property
    def files(self) -> TlsFiles:
        """The files as last read: the newest complete, matching set seen."""
        return self._files

    def changed(self) -> TlsFiles | None:
        """The new files if they changed since last read (and make a usable set), else None."""
        now = time.monotonic()
        if now - self._checked_at < self._check_interval:
            return None
        self._checked_at = now
        try:
            stamp = self._fingerprint()
            if stamp == self._stamp:
                return None
            files = self._read()
        except TlsDirectoryError:
            # Half-written (certificate without its new key yet): keep the old set, look again.
            return None
        self._stamp, self._files = stamp, files
        return files

    def _fingerprint(self) -> tuple[tuple[int, int, int], ...]:
        stamps = []
        for name in FILES:
            try:
                stat = os.stat(self.file(name))  # follows the symlinks of a Secret volume
            except OSError as error:
                raise TlsDirectoryError(f"{self.file(name)}: {error.strerror}") from None
            stamps.append((stat.st_ino, stat.st_mtime_ns, stat.st_size))
        return tuple(stamps)

    def _read(self) -> TlsFiles:
        try:
            files = TlsFiles(*(self.file(name).read_bytes() for name in FILES))
        except OSError as error:
            raise TlsDirectoryError(f"{self.path}: {error.strerror}: {error.filename}") from None
        _check(self.path, files)
        return files


def _check(path: Path, files: TlsFiles) -> None:
    """The certificate and key parse and belong together; the CA bundle parses."""
    try:
        certificate = x509.load_pem_x509_certificates(files.certificate)[0]
        key = serialization.load_pem_private_key(files.key, password=None)
        x509.load_pem_x509_certificates(files.ca)
    except ValueError as error:
        raise TlsDirectoryError(f"{path}: unreadable PEM ({error})") from None
    if certificate.public_key() != key.public_key():
        raise TlsDirectoryError(f"{path}: {CERT_FILE} does not match {KEY_FILE}")


def write_directory(path: Path, files: TlsFiles) -> None:
    """Write the three files, each replaced atomically; the key readable by its owner only."""
    path.mkdir(parents=True, exist_ok=True)
    # The key first, so a reader never pairs a new certificate with an old key for long.
    for name, content in (
        (KEY_FILE, files.key),
        (CERT_FILE, files.certificate),
        (CA_FILE, files.ca),
    ):
        write_file(path / name, content, private=name == KEY_FILE)


def write_file(target: Path, content: bytes, *, private: bool = False) -> None:
    """Replace `target` atomically (rename), mode 0600 when `private`."""
    temporary = target.with_name(f".{target.name}.tmp")
    descriptor = os.open(
        temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644
    )
    with os.fdopen(descriptor, "wb") as file:
        file.write(content)
    os.replace(temporary, target)
