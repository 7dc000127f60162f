"""The admin API's SSLContext: TLS 1.2+, client certificates checked, rotation followed."""

import asyncio
import socket
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.unit.tlsfiles.conftest import SERVER, Pki, presented_certificate
from tlsfiles.directory import TlsDirectory
from tlsfiles.ssl_context import server_ssl_context


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"ok")
    await writer.drain()
    writer.close()


async def _serve(context: ssl.SSLContext) -> AsyncIterator[int]:
    server = await asyncio.start_server(_answer, "127.0.0.1", 0, ssl=context)
    async with server:
        yield server.sockets[0].getsockname()[1]


def _der(pem: bytes) -> bytes:
    return x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)


@pytest.fixture
async def directory(pki: Pki) -> TlsDirectory:
    return TlsDirectory(pki.server, check_interval=0)


async def test_the_newest_certificate_is_presented(pki: Pki, directory: TlsDirectory) -> None:
    context = server_ssl_context(directory, require_client_cert=False)
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    async for port in _serve(context):
        first = await asyncio.to_thread(presented_certificate, port, pki.ca.certificate)
        assert first == _der(directory.files.certificate)
        renewed = pki.write(pki.server, SERVER)
        second = await asyncio.to_thread(presented_certificate, port, pki.ca.certificate)
        assert second == _der(renewed.certificate) != first


async def test_a_client_without_a_certificate_is_refused_when_required(
    pki: Pki, directory: TlsDirectory
) -> None:
    async for port in _serve(server_ssl_context(directory, require_client_cert=True)):
        assert await asyncio.to_thread(_read, port, pki.ca.certificate, pki.client) == b"ok"
        assert await asyncio.to_thread(_read, port, pki.ca.certificate, None) == b""


def _read(port: int, ca: bytes, client: Path | None) -> bytes:
    """What the server sends after the handshake; nothing once it refused the handshake (TLS
    1.3 reports the refusal to the client only after its own side has finished)."""
    context = ssl.create_default_context(cadata=ca.decode())
    if client is not None:
        context.load_cert_chain(client / "tls.crt", client / "tls.key")
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        try:
            return tls.recv(2)
        except (ssl.SSLError, ConnectionError):
            return b""
