"""Demo upstreams: stand-ins for the game services, for development and integration tests."""
