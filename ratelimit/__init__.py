"""The global rate-limit service (Envoy `envoy.service.ratelimit.v3.RateLimitService`, gRPC).

Sliding windows in Redis shared by every Envoy; its limits arrive from the control plane over
ADS. Built by the rate-limiting issue; until then the gateway compiles no global limit.
"""
