"""`chaosgw envoy-drain`: the preStop hook of an Envoy pod. It starts Envoy's graceful drain
(HTTP/1 responses get `Connection: close`, HTTP/2 connections a GOAWAY, listeners close at the
end of --drain-time-s) and returns once the downstream connections are gone or the bound is
reached, so that the SIGTERM which follows closes nothing a client still uses.

Limit: Envoy cannot end an upgraded (WebSocket) connection with a close frame; such connections
stay open until their client or upstream closes them or until the drain bound, when the pod's
exit resets them. Players' clients must reconnect on an abnormal close (1006)."""

import os
import sys
import time
from dataclasses import dataclass

import httpx

ADMIN_LISTENER = "listener.admin."


@dataclass(frozen=True)
class DrainOutcome:
    open_connections: int
    waited_seconds: float

    @property
    def drained(self) -> bool:
        return self.open_connections == 0


def open_connections(admin: httpx.Client) -> int:
    """Downstream connections of every listener but the admin interface's own."""
    response = admin.get(
        "/stats", params={"format": "json", "filter": r"^listener\..*downstream_cx_active$"}
    )
    response.raise_for_status()
    return sum(
        int(stat["value"])
        for stat in response.json()["stats"]
        if "value" in stat
        and not stat["name"].startswith(ADMIN_LISTENER)
        # Envoy also counts each listener's connections per worker thread: counted once here.
        and ".worker_" not in stat["name"]
    )


def drain(
    admin_url: str, *, timeout_s: float, settle_s: float, poll_s: float = 0.2
) -> DrainOutcome:
    """Start the graceful drain and wait at least `settle_s` (clients still arrive while the
    pod leaves the Service's endpoints), then until no connection is open or `timeout_s`."""
    started = time.monotonic()
    with httpx.Client(base_url=admin_url, timeout=5.0) as admin:
        admin.post("/drain_listeners", params={"graceful": ""}).raise_for_status()
        while True:
            waited = time.monotonic() - started
            remaining = open_connections(admin)
            if (remaining == 0 and waited >= settle_s) or waited >= timeout_s:
                return DrainOutcome(remaining, waited)
            time.sleep(poll_s)


def main(address: str | None, port: int | None, timeout_s: float, settle_s: float) -> int:
    address = address or os.environ.get("CHAOSGW_ENVOY_ADMIN_ADDRESS", "127.0.0.1")
    port = port or int(os.environ.get("CHAOSGW_ENVOY_ADMIN_PORT", "9901"))
    host = f"[{address}]" if ":" in address else address
    try:
        outcome = drain(f"http://{host}:{port}", timeout_s=timeout_s, settle_s=settle_s)
    except httpx.HTTPError as error:
        print(f"chaosgw envoy-drain: Envoy's admin interface failed: {error}", file=sys.stderr)
        return 1
    state = "drained" if outcome.drained else f"{outcome.open_connections} connection(s) left"
    print(f"chaosgw envoy-drain: {state} after {outcome.waited_seconds:.1f}s", file=sys.stderr)
    return 0
