"""gRPC credentials from a TlsDirectory: a server that requires client certificates and picks
up rotated files at the next handshake, and a channel that presents its own certificate."""

import grpc

from tlsfiles.directory import TlsDirectory, TlsFiles


def server_credentials(directory: TlsDirectory) -> grpc.ServerCredentials:
    """Mutual TLS: clients must present a certificate signed by the directory's CA bundle.

    gRPC asks the fetcher before each new handshake; it answers with the new files when they
    changed, so open streams keep their connection and new ones get the rotated certificate.
    """

    def fetch() -> grpc.ServerCertificateConfiguration | None:
        files = directory.changed()
        return None if files is None else _configuration(files)

    # grpc-stubs says the fetcher never answers None; gRPC reads None as "no change".
    return grpc.dynamic_ssl_server_credentials(
        _configuration(directory.files),
        fetch,  # type: ignore[arg-type]
        require_client_authentication=True,
    )


def channel_credentials(directory: TlsDirectory) -> grpc.ChannelCredentials:
    """The directory's current files as a client's: its CA bundle verifies the server.

    A channel keeps the credentials it was made with: make a new channel after `changed()`.
    """
    directory.changed()
    files = directory.files
    return grpc.ssl_channel_credentials(
        root_certificates=files.ca, private_key=files.key, certificate_chain=files.certificate
    )


def _configuration(files: TlsFiles) -> grpc.ServerCertificateConfiguration:
    return grpc.ssl_server_certificate_configuration(
        [(files.key, files.certificate)], root_certificates=files.ca
    )
