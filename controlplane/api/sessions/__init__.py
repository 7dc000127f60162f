"""Server-side sessions: made by the gateway for the user-management service, shown once,
held in Redis, revoked one by one (logout) or all of a player's at once (ban)."""
