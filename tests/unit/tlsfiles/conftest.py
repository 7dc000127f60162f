"""Certificates for the tlsfiles tests: one CA, a server and a client, written as directories."""

import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

import pytest

from tlsfiles.directory import TlsFiles, write_directory
from tlsfiles.identities import group_uri
from tlsfiles.issue import Issued, LeafRequest, issue_leaf, new_ca

SERVER = LeafRequest("server", hosts=("localhost", "127.0.0.1"), server=True)
CLIENT = LeafRequest("client", uris=(group_uri("default"),), client=True)


@dataclass
class Pki:
    ca: Issued
    server: Path
    client: Path

    def write(self, path: Path, request: LeafRequest, ca: Issued | None = None) -> TlsFiles:
        """Issue `request` from `ca` (this CA by default) into `path`; the files written."""
        signer = ca or self.ca
        leaf = issue_leaf(signer, request)
        files = TlsFiles(self.ca.certificate, leaf.certificate, leaf.key)
        write_directory(path, files)
        return files


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    made = Pki(new_ca(), tmp_path / "server", tmp_path / "client")
    made.write(made.server, SERVER)
    made.write(made.client, CLIENT)
    return made


def presented_certificate(port: int, ca: bytes, client: Path | None = None) -> bytes:
    """The DER certificate a TLS server on 127.0.0.1:port presents in a fresh handshake,
    presenting the client certificate in directory `client` if given."""
    context = ssl.create_default_context(cadata=ca.decode())
    if client is not None:
        context.load_cert_chain(client / "tls.crt", client / "tls.key")
    context.set_alpn_protocols(["h2", "http/1.1"])
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        certificate = tls.getpeercert(binary_form=True)
    assert certificate is not None
    return certificate
