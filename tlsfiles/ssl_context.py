"""An ssl.SSLContext for an HTTPS server (the admin API) that follows a TlsDirectory."""

import contextlib
import ssl

from tlsfiles.directory import CERT_FILE, KEY_FILE, TlsDirectory


def server_ssl_context(directory: TlsDirectory, *, require_client_cert: bool) -> ssl.SSLContext:
    """TLS 1.2+ with the directory's certificate; client certificates are verified against its
    CA bundle when presented, and refused when missing if `require_client_cert`.

    Every handshake passes through the returned context's server-name callback, which hands the
    connection to a context made from the newest files: rotation needs no restart.
    """
    current = _context(directory, require_client_cert)

    def follow(connection: ssl.SSLObject, server_name: str | None, _: ssl.SSLContext) -> None:
        nonlocal current
        if directory.changed() is not None:
            # Replaced again while being read: keep serving the last good files.
            with contextlib.suppress(ssl.SSLError):
                current = _context(directory, require_client_cert)
        connection.context = current

    outer = _context(directory, require_client_cert)
    outer.sni_callback = follow  # type: ignore[assignment,unused-ignore]
    return outer


def _context(directory: TlsDirectory, require_client_cert: bool) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.verify_mode = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_OPTIONAL
    context.load_verify_locations(cadata=directory.files.ca.decode())
    context.load_cert_chain(directory.file(CERT_FILE), directory.file(KEY_FILE))
    return context
