"""Keeps the snapshot cache in step with the store.

An admin write calls `changed()` (from any thread) to rebuild at once; a slow poll of the store
revision catches writes made by other control-plane replicas. Bursts of writes coalesce into
one rebuild, and a rebuild whose result is unchanged wakes nobody.
"""

import asyncio
import logging
import time
from collections.abc import Callable

from controlplane.model import GatewayState
from controlplane.translator import (
    ExtAuthzService,
    RateLimitService,
    Translator,
    api_key_resources,
    introspector_resources,
    jwt_provider_resources,
    policy_resources,
    route_policy_resources,
)
from controlplane.xds import metrics
from controlplane.xds.cache import SnapshotCache
from controlplane.xds.heap import HeapKeeper
from controlplane.xds.snapshot import (
    API_KEY,
    AUTH_ROUTE_POLICY,
    JWT_PROVIDER,
    OAUTH2_INTROSPECTOR,
    POLICY_GROUP,
    RATELIMIT_POLICY,
    Snapshot,
)

log = logging.getLogger(__name__)


class SnapshotPublisher:
    def __init__(
        self,
        cache: SnapshotCache,
        load_state: Callable[[], GatewayState],
        current_revision: Callable[[], int],
        poll_seconds: float,
        ratelimit: RateLimitService | None = None,
        extauthz: ExtAuthzService | None = None,
        heap: HeapKeeper | None = None,
    ) -> None:
        self._cache = cache
        self._load_state = load_state
        self._current_revision = current_revision
        self._poll_seconds = poll_seconds
        self._loop: asyncio.AbstractEventLoop | None = None
        self._requested = asyncio.Event()
        self._revision: int | None = None
        # Long-lived, so that a rebuild compiles only the specs that changed.
        self._translator = Translator(ratelimit, extauthz)
        self._built: dict[str, Snapshot] = {}
        # The control plane's: freezes each rebuild's state, collects it in full when idle.
        self._heap = heap

    def changed(self) -> None:
        """Ask for a rebuild. Safe to call from any thread, returns at once."""
        loop = self._loop
        if loop is not None:
            loop.call_soon_threadsafe(self._requested.set)

    async def rebuild(self) -> None:
        """Load the state, compile it and publish one snapshot per node group."""
        started = time.perf_counter()
        snapshots, revision = await asyncio.to_thread(self._build)
        for group in set(self._cache.groups()) - set(snapshots):
            snapshots[group] = Snapshot.empty()  # the group's last listener was deleted
        changed = [
            group for group, snapshot in snapshots.items() if self._cache.set(group, snapshot)
        ]
        self._revision = revision
        metrics.TRANSLATION_SECONDS.observe(time.perf_counter() - started)
        metrics.SNAPSHOT_REVISION.set(revision)
        if changed:
            log.info("snapshots published", extra={"revision": revision, "groups": sorted(changed)})
        if self._heap is not None:
            self._heap.rebuilt()

    async def run(self) -> None:
        """Rebuild on request, and whenever the store revision moves."""
        self._loop = asyncio.get_running_loop()
        # The first round rebuilds at once, and like any other survives a store that fails.
        self._requested.set()
        while True:
            try:
                await asyncio.wait_for(self._requested.wait(), self._poll_seconds)
            except TimeoutError:
                try:
                    revision = await asyncio.to_thread(self._current_revision)
                except Exception:
                    log.exception("cannot read the store revision; serving the last snapshots")
                    continue
                if revision == self._revision:
                    if self._heap is not None:
                        self._heap.idle()
                    continue
            self._requested.clear()
            try:
                await self.rebuild()
            except Exception:
                log.exception("rebuild failed; serving the last snapshots")

    def _build(self) -> tuple[dict[str, Snapshot], int]:
        state = self._load_state()
        built = {
            group: Snapshot.of_group(resources, self._built.get(group))
            for group, resources in self._translator.translate(state).items()
        }
        # The Python services' own group: the rate-limit policies, API keys and route policies
        # they decide with.
        built[POLICY_GROUP] = Snapshot.build(
            {
                RATELIMIT_POLICY: policy_resources(state),
                API_KEY: api_key_resources(state),
                AUTH_ROUTE_POLICY: route_policy_resources(state),
                JWT_PROVIDER: jwt_provider_resources(state),
                OAUTH2_INTROSPECTOR: introspector_resources(state),
            },
            self._built.get(POLICY_GROUP),
        )
        self._built = built
        return dict(built), state.revision
