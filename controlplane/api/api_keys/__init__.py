"""API keys: made by the gateway, shown once, stored as a keyed hash, revoked by deletion."""
