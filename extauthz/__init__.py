"""The external authorization service (Envoy `envoy.service.auth.v3.Authorization`, gRPC).

Decides what Envoy cannot decide alone; for now API keys: the caller's key is hashed with the
shared secret and looked up in memory, among the keys the control plane pushes over ADS, with
the route's policy (the roles it requires) from the same stream. One process per core, each on
its own port; no I/O on a request's path.
"""
