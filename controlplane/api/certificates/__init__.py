"""Certificates: server certificates and their private keys, for listeners that terminate TLS."""
