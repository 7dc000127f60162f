"""The external authorization service (Envoy `envoy.service.auth.v3.Authorization`, gRPC).

Decides what Envoy cannot decide alone: API keys (api_keys.py), JWTs on routes the service
guards (jwt_verifier.py), server-side sessions (sessions.py, in Redis), OAuth 2.0 opaque tokens
(introspection.py, RFC 7662) and owner rules (owner_rule.py), for the routes whose policies the
control plane pushes over ADS (policies.py). servicer.py runs one check; worker.py one process
(one per core, each on its own port), which also receives the Envoys' auth denials (events.py).
Answers come from memory wherever they can: keys, verified tokens and introspection answers are
kept; only a session is read from Redis at every request, so that a logout holds at once.
"""
