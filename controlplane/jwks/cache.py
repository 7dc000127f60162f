"""The key sets of remote-JWKS providers, kept current for the translator.

`attach` runs in the publisher's build: it fetches the keys of a provider seen for the first
time (so a restarted control plane or another replica never publishes a provider without its
keys when its source answers), and hands every known key set to the translator with the state.
`run` fetches each key set again every `refresh_seconds` and asks for a rebuild when one
changed: that is how a key rotation at the provider reaches every Envoy, over ECDS, without
touching a listener. A failed refresh keeps the last good keys; a provider whose keys were
never fetched has none, and Envoy refuses its tokens (never lets them through unchecked).
"""

import asyncio
import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from controlplane.jwks.fetch import JwksUnavailable, fetch_jwks
from controlplane.model import GatewayState, JwtProviderSpec, RemoteJwks

log = logging.getLogger(__name__)

# A failed fetch is tried again this soon, however long the provider's refresh interval.
RETRY_SECONDS = 10.0
CHECK_SECONDS = 0.5


@dataclass
class _Entry:
    provider: JwtProviderSpec
    document: str | None
    due: float


class JwksCache:
    def __init__(self, on_change: Callable[[], None]) -> None:
        self._on_change = on_change
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()
        self._client = httpx.Client()

    def attach(self, state: GatewayState) -> GatewayState:
        """`state` with the key sets of its remote-JWKS providers. Blocks to fetch new ones."""
        remote = {p.name: p for p in state.jwt_providers if isinstance(p.jwks, RemoteJwks)}
        with self._lock:
            for name in set(self._entries) - set(remote):
                del self._entries[name]
            missing = [
                provider
                for name, provider in remote.items()
                if name not in self._entries or self._entries[name].provider != provider
            ]
        for provider in missing:
            self._fetch(provider)
        with self._lock:
            documents = {
                name: entry.document
                for name, entry in self._entries.items()
                if entry.document is not None and name in remote
            }
        return dataclasses.replace(state, fetched_jwks=documents)

    async def run(self) -> None:
        """Refresh the key sets that are due, for ever."""
        while True:
            now = time.monotonic()
            with self._lock:
                due = [entry.provider for entry in self._entries.values() if entry.due <= now]
            changed = False
            for provider in due:
                changed |= await asyncio.to_thread(self._fetch, provider)
            if changed:
                self._on_change()
            await asyncio.sleep(CHECK_SECONDS)

    def close(self) -> None:
        self._client.close()

    def _fetch(self, provider: JwtProviderSpec) -> bool:
        """Fetch and remember the provider's keys; whether they changed."""
        assert isinstance(provider.jwks, RemoteJwks)
        interval = provider.jwks.refresh_seconds
        with self._lock:
            known = self._entries.get(provider.name)
        previous = known.document if known is not None and known.provider == provider else None
        try:
            document: str | None = fetch_jwks(provider, self._client)
        except JwksUnavailable as error:
            log.warning(
                "cannot refresh the keys of a JWT provider; keeping the last ones",
                extra={"provider": provider.name, "error": str(error)},
            )
            document, interval = previous, min(interval, RETRY_SECONDS)
        with self._lock:
            self._entries[provider.name] = _Entry(provider, document, time.monotonic() + interval)
        if document != previous:
            log.info("JWT provider keys changed", extra={"provider": provider.name})
        return document != previous
