"""The external authorization service (Envoy `envoy.service.auth.v3.Authorization`, gRPC).

Decides what Envoy cannot decide alone: API keys, server-side sessions, OAuth2 introspection and
resource-level permissions. Its policies arrive from the control plane over ADS. Built by the
authentication issue; until then the gateway compiles no route that needs it.
"""
