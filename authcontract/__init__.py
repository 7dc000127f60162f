"""What callers and upstreams see of the gateway's auth, the same whichever part decided."""
