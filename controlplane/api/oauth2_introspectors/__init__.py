"""OAuth 2.0 introspectors: the RFC 7662 endpoints opaque access tokens are checked against."""
