"""Listeners: where Envoy accepts client connections."""
