"""What the gateway's own gRPC services (ratelimit, extauthz) share about their processes: the
launcher running one process per core, each on its own ports, and each process's health
endpoints served beside its gRPC server."""
