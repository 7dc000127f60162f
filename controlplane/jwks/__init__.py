"""Key sets of JWT providers with remote JWKS: fetched (through OpenID Connect discovery when
asked) and checked by the control plane, refreshed, and handed to the translator."""
