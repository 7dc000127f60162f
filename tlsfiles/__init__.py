"""TLS files of the gateway's mTLS: identities, issuing, the ca.crt/tls.crt/tls.key directory."""
