"""JWTs checked by the auth service, on the routes Envoy's `jwt_authn` does not guard (those
that also accept other credentials, or have a resource-level rule).

A verified token is remembered by its SHA-256 until it expires (bounded LRU): a repeated token
costs a hash and one dict lookup, and keeps the identity whose admission is already built. A
token naming a `kid` its provider does not hold makes the service fetch the provider's key set
itself (rotation without waiting for the control plane's next refresh): at most one fetch per
provider per `refetch_interval`, concurrent misses sharing it, then one retry.

PyJWT checks the signature (with the key of the token's own `kid` and pinned algorithm), the
issuer and the audience; expiry and not-before are checked here, against the injectable clock
that also ages the cache.
"""

import asyncio
import hashlib
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import httpx
import jwt

from authcontract import denials
from extauthz.credentials import AUTHORIZATION_HEADER
from extauthz.identity import JWT, Identity, Presented
from extauthz.jwt_providers import Keys, Provider, keys_of
from extauthz.policies import RoutePolicy

log = logging.getLogger(__name__)

REFETCH_INTERVAL_SECONDS = 10.0
FETCH_TIMEOUT_SECONDS = 2.0
CACHE_SIZE = 65536
COOKIE_HEADER = "cookie"


@dataclass(frozen=True, slots=True)
class _Verified:
    identity: Identity
    provider: str
    valid_until: float


async def fetch_over_http(provider: Provider) -> str:
    """The provider's current JWKS text: from its URL, or the one its discovery document names."""
    async with httpx.AsyncClient(timeout=FETCH_TIMEOUT_SECONDS) as client:
        url = provider.jwks_url
        if not url:
            discovery = (await client.get(provider.discovery_url)).raise_for_status().json()
            url = discovery["jwks_uri"] if isinstance(discovery, dict) else ""
            if not isinstance(url, str) or not url.startswith(("https://", "http://")):
                raise ValueError("the discovery document names no http(s) jwks_uri")
        return (await client.get(url)).raise_for_status().text


class JwtVerifier:
    def __init__(
        self,
        fetch: Callable[[Provider], Awaitable[str]] = fetch_over_http,
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        refetch_interval: float = REFETCH_INTERVAL_SECONDS,
        cache_size: int = CACHE_SIZE,
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._monotonic = monotonic
        self._refetch_interval = refetch_interval
        self._cache_size = cache_size
        self._providers: Mapping[str, Provider] = {}
        # Keys the service fetched itself, newer than the pushed ones of the same provider.
        self._fetched: dict[str, Keys] = {}
        self._last_fetch: dict[str, float] = {}
        self._fetching: dict[str, asyncio.Future[bool]] = {}
        self._cache: OrderedDict[bytes, _Verified] = OrderedDict()
        # Signatures actually checked (a cache hit checks none): what the tests count.
        self.signature_checks = 0

    def replace(self, providers: Mapping[str, Provider]) -> None:
        """A new pushed set. Keys fetched by the service are kept only while the control plane
        still pushes the key set they replaced; verified tokens are forgotten, since a key (or
        a provider) may be gone."""
        previous = self._providers
        self._fetched = {
            name: keys
            for name, keys in self._fetched.items()
            if name in providers
            and name in previous
            and providers[name].jwks == previous[name].jwks
        }
        self._providers = providers
        self._cache.clear()

    def locate(
        self, headers: Mapping[str, str], path: str, policy: RoutePolicy
    ) -> Presented | None:
        """A token in a cookie or the query string, where one of the route's providers reads
        it (the Authorization header is looked at by credentials.presented)."""
        cookies = headers.get(COOKIE_HEADER, "")
        query = path.partition("?")[2]
        for name in sorted(policy.jwt_providers):
            provider = self._providers.get(name)
            if provider is None:
                continue
            if cookies:
                for cookie in provider.cookies:
                    value = _cookie(cookies, cookie)
                    if value:
                        return Presented(JWT, value, "", source=f"cookie:{cookie}")
            if query and provider.query_parameter:
                for key, value in parse_qsl(query):
                    if key == provider.query_parameter and value:
                        return Presented(JWT, value, "?" + key, source=f"query:{key}")
        return None

    async def verify(self, presented: Presented, policy: RoutePolicy) -> Identity | str:
        token = presented.value
        digest = hashlib.sha256(token.encode()).digest()
        known = self._cache.get(digest)
        if known is not None and self._clock() < known.valid_until:
            if known.provider not in policy.jwt_providers:
                return denials.JWT_ISSUER
            if not _source_allowed(self._providers[known.provider], presented):
                return denials.JWT_SOURCE
            self._cache.move_to_end(digest)
            return known.identity
        verified = await self._verify(token, presented, policy)
        if isinstance(verified, str):
            return verified
        self._cache[digest] = verified
        self._cache.move_to_end(digest)
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return verified.identity

    async def _verify(
        self, token: str, presented: Presented, policy: RoutePolicy
    ) -> _Verified | str:
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            return denials.BAD_JWT
        provider = self._provider_of(unverified.get("iss"), policy)
        if provider is None:
            return denials.JWT_ISSUER
        if not _source_allowed(provider, presented):
            return denials.JWT_SOURCE
        alg, kid = header.get("alg"), header.get("kid", "")
        if not isinstance(alg, str) or alg not in provider.algorithms or not isinstance(kid, str):
            return denials.JWT_ALGORITHM
        key = self._key(provider, kid, alg, token)
        if key is None and provider.remote and await self._refetch(provider):
            key = self._key(provider, kid, alg, token)
        if key is None:
            return denials.JWT_UNKNOWN_KEY
        self.signature_checks += 1
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=[alg],
                audience=list(provider.audiences),
                issuer=provider.issuer,
                options={"verify_exp": False, "verify_nbf": False, "verify_iat": False},
            )
        except jwt.InvalidSignatureError:
            return denials.JWT_SIGNATURE
        except jwt.InvalidAudienceError:
            return denials.JWT_AUDIENCE
        except jwt.InvalidIssuerError:
            return denials.JWT_ISSUER
        except jwt.PyJWTError:
            return denials.BAD_JWT
        return self._timely(claims, provider)

    def _timely(self, claims: dict[str, Any], provider: Provider) -> _Verified | str:
        now, leeway = self._clock(), provider.leeway
        expires, not_before = claims.get("exp"), claims.get("nbf", 0)
        if not isinstance(expires, int | float) or not isinstance(not_before, int | float):
            return denials.BAD_JWT
        if now >= expires + leeway:
            return denials.JWT_EXPIRED
        if now + leeway < not_before:
            return denials.JWT_NOT_YET_VALID
        player_id = _claim(claims, provider.player_id_claim)
        roles = _claim(claims, provider.roles_claim)
        tier = _claim(claims, provider.tier_claim) if provider.tier_claim else ""
        identity = Identity(
            kind=JWT,
            player_id=player_id if isinstance(player_id, str) else "",
            roles=frozenset(_roles(roles)),
            tier=tier if isinstance(tier, str) else "",
        )
        return _Verified(identity, provider.name, expires + leeway)

    def _provider_of(self, issuer: object, policy: RoutePolicy) -> Provider | None:
        for name in sorted(policy.jwt_providers):  # two of one issuer: always the same one
            provider = self._providers.get(name)
            if provider is not None and provider.issuer == issuer:
                return provider
        return None

    def _key(self, provider: Provider, kid: str, alg: str, token: str) -> jwt.PyJWK | None:
        keys = self._fetched.get(provider.name, provider.keys)
        key = keys.get((kid, alg))
        if key is not None or kid:
            return key
        # No kid: the provider's only key for the algorithm, if it has just one.
        candidates = [key for (_, key_alg), key in keys.items() if key_alg == alg]
        return candidates[0] if len(candidates) == 1 else None

    async def _refetch(self, provider: Provider) -> bool:
        """Fetch the provider's keys (or wait for the fetch under way); whether new keys came."""
        pending = self._fetching.get(provider.name)
        if pending is not None:
            return await asyncio.shield(pending)
        now = self._monotonic()
        last = self._last_fetch.get(provider.name)
        if last is not None and now - last < self._refetch_interval:
            return False
        self._last_fetch[provider.name] = now
        # Shielded: a check Envoy gives up on does not cancel the fetch others wait for.
        task = asyncio.ensure_future(self._fetch_keys(provider))
        self._fetching[provider.name] = task
        try:
            return await asyncio.shield(task)
        finally:
            if task.done():
                self._fetching.pop(provider.name, None)
            else:
                task.add_done_callback(lambda _: self._fetching.pop(provider.name, None))

    async def _fetch_keys(self, provider: Provider) -> bool:
        try:
            keys = keys_of(await self._fetch(provider), sorted(provider.algorithms))
        except (httpx.HTTPError, ValueError, KeyError, json.JSONDecodeError) as error:
            log.warning(
                "cannot fetch the keys of a JWT provider",
                extra={"provider": provider.name, "error": f"{type(error).__name__}: {error}"},
            )
            return False
        if self._providers.get(provider.name) is not provider:
            return False  # a newer push replaced the provider meanwhile
        known = self._fetched.get(provider.name, provider.keys)
        if keys.keys() == known.keys():
            return False
        log.info("JWT provider keys fetched by the auth service", extra={"provider": provider.name})
        self._fetched[provider.name] = keys
        self._cache.clear()  # a key may have left the set
        return True


def _source_allowed(provider: Provider, presented: Presented) -> bool:
    """Whether the token came from where its own provider reads tokens."""
    kind, _, name = presented.source.partition(":")
    if kind == "cookie":
        return name in provider.cookies
    if kind == "query":
        return name == provider.query_parameter != ""
    return presented.carrier == AUTHORIZATION_HEADER and provider.authorization_header


def _cookie(header: str, name: str) -> str:
    for pair in header.split(";"):
        key, _, value = pair.strip().partition("=")
        if key == name:
            return value.strip('"')
    return ""


def _claim(claims: Mapping[str, Any], path: tuple[str, ...]) -> object:
    value: object = claims
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _roles(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [role for role in value if isinstance(role, str)]
    return []
