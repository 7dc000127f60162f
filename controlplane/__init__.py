"""Chaos Gateway control plane: admin API, store, translator and xDS server."""
