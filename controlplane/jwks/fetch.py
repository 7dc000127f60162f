"""Fetching one provider's key set: the admin API does it to refuse a bad source up front,
the cache to keep the keys current."""

import json

import httpx

from controlplane.model import JwtProviderSpec, RemoteJwks
from controlplane.model.auth_jwks import parse_jwks

FETCH_TIMEOUT_SECONDS = 3.0
MAX_DOCUMENT_BYTES = 512 * 1024


class JwksUnavailable(Exception):
    """The key set could not be fetched, or what was fetched is not a usable JWKS."""


def jwks_url(provider: JwtProviderSpec, client: httpx.Client) -> str:
    """The JWKS URL: given, or the `jwks_uri` of the provider's discovery document."""
    source = provider.jwks
    assert isinstance(source, RemoteJwks)
    if source.uri is not None:
        return str(source.uri)
    discovery = provider.discovery_url()
    try:
        document = json.loads(_get(client, discovery))
    except ValueError:
        raise JwksUnavailable(f"the discovery document at {discovery} is not JSON") from None
    uri = document.get("jwks_uri") if isinstance(document, dict) else None
    if not isinstance(uri, str) or not uri.startswith(("https://", "http://")):
        raise JwksUnavailable(f"the discovery document at {discovery} has no http(s) jwks_uri")
    if document.get("issuer") not in (None, provider.issuer):
        # OpenID Connect Discovery 1.0, section 4.3: the issuer must be the one asked about.
        raise JwksUnavailable(
            f"the discovery document at {discovery} is for issuer {document['issuer']!r}, "
            f"not {provider.issuer!r}"
        )
    return uri


def fetch_jwks(provider: JwtProviderSpec, client: httpx.Client) -> str:
    """The provider's key set as JSON text, checked; JwksUnavailable saying what failed."""
    url = jwks_url(provider, client)
    text = _get(client, url)
    try:
        keys = parse_jwks(text)
    except ValueError as error:
        raise JwksUnavailable(f"{url} does not serve a usable JWKS: {error}") from None
    # Canonical text: the same keys give the same bytes, hence the same config version.
    return json.dumps({"keys": keys}, sort_keys=True, separators=(",", ":"))


def _get(client: httpx.Client, url: str) -> bytes:
    try:
        response = client.get(url, timeout=FETCH_TIMEOUT_SECONDS, follow_redirects=True)
    except httpx.HTTPError as error:
        raise JwksUnavailable(f"cannot fetch {url}: {type(error).__name__}: {error}") from None
    if response.status_code != 200:
        raise JwksUnavailable(f"{url} answered HTTP {response.status_code}")
    if len(response.content) > MAX_DOCUMENT_BYTES:
        raise JwksUnavailable(f"{url} answered more than {MAX_DOCUMENT_BYTES // 1024} KiB")
    return response.content
