"""Services: the upstreams routes send traffic to."""
