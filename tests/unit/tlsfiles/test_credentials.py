"""gRPC credentials: a server that requires a client certificate of its CA, and takes rotated
files at the next handshake without a restart."""

import asyncio
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.unit.tlsfiles.conftest import CLIENT, SERVER, Pki, presented_certificate
from tlsfiles.credentials import channel_credentials, server_credentials
from tlsfiles.directory import TlsDirectory
from tlsfiles.issue import new_ca

_METHOD = "/test.Echo/Echo"


def _echo(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
    return request


async def _serve(directory: TlsDirectory) -> tuple[grpc.aio.Server, int]:
    server = grpc.aio.server()
    handler = grpc.method_handlers_generic_handler(
        "test.Echo", {"Echo": grpc.unary_unary_rpc_method_handler(_echo)}
    )
    server.add_generic_rpc_handlers((handler,))
    port = server.add_secure_port("127.0.0.1:0", server_credentials(directory))
    await server.start()
    return server, port


async def _call(port: int, credentials: grpc.ChannelCredentials) -> bytes:
    options = [("grpc.ssl_target_name_override", "localhost")]
    async with grpc.aio.secure_channel(f"127.0.0.1:{port}", credentials, options) as channel:
        call = channel.unary_unary(_METHOD, request_serializer=None, response_deserializer=None)
        answer: bytes = await call(b"ping", timeout=5)
        return answer


def _server_certificate(directory: TlsDirectory) -> bytes:
    return _der(directory.files.certificate)


def _der(pem: bytes) -> bytes:
    return x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)


async def test_a_client_of_the_ca_is_served_and_others_are_not(pki: Pki, tmp_path: Path) -> None:
    server, port = await _serve(TlsDirectory(pki.server))
    try:
        assert await _call(port, channel_credentials(TlsDirectory(pki.client))) == b"ping"
        no_certificate = grpc.ssl_channel_credentials(root_certificates=pki.ca.certificate)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await _call(port, no_certificate)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        pki.write(tmp_path / "foreign", CLIENT, ca=new_ca())
        with pytest.raises(grpc.aio.AioRpcError) as foreign:
            await _call(port, channel_credentials(TlsDirectory(tmp_path / "foreign")))
        assert foreign.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        await server.stop(None)


async def test_a_rotated_server_certificate_is_used_without_a_restart(pki: Pki) -> None:
    directory = TlsDirectory(pki.server, check_interval=0)
    server, port = await _serve(directory)
    client = channel_credentials(TlsDirectory(pki.client))
    try:
        assert await _call(port, client) == b"ping"
        before = _server_certificate(directory)
        assert (
            await asyncio.to_thread(presented_certificate, port, pki.ca.certificate, pki.client)
            == before
        )
        pki.write(pki.server, SERVER)
        after = _der(TlsDirectory(pki.server).files.certificate)
        assert after != before
        # The next handshake presents the new certificate; the old channel keeps working.
        assert (
            await asyncio.to_thread(presented_certificate, port, pki.ca.certificate, pki.client)
            == after
        )
        assert await _call(port, client) == b"ping"
    finally:
        await server.stop(None)
