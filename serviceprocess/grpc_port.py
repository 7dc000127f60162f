"""A service's gRPC port: mTLS with its identity certificate when it has one (Envoy must then
present a certificate of the same CA), plaintext otherwise."""

import grpc

from tlsfiles.credentials import server_credentials
from tlsfiles.directory import TlsDirectory


def add_grpc_port(server: grpc.aio.Server, address: str, tls: TlsDirectory | None) -> int:
    """Bind `address`; the port bound."""
    if tls is None:
        return server.add_insecure_port(address)
    return server.add_secure_port(address, server_credentials(tls))
