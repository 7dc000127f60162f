"""Integration harness: real processes (control plane, Envoy, demo upstreams) on 127.0.0.1.

Every wait here is on a condition with a deadline (`wait_until`), never a bare sleep: a test
either sees what it waits for or fails saying what it waited for, and the logs of every
process it started are shown with the failure (see `conftest.py`).
"""

import os
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

T = TypeVar("T")

LOCALHOST = "127.0.0.1"
# The console scripts of the venv that runs the tests, whichever venv that is.
BIN = Path(sys.executable).parent
CHAOSGW = str(BIN / "chaosgw")

# Type URLs of the resources Envoy receives, as `GET /api/v1/nodes` names them.
LISTENER_TYPE = "type.googleapis.com/envoy.config.listener.v3.Listener"
CLUSTER_TYPE = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
ROUTE_TYPE = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
ENDPOINT_TYPE = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"


class WaitTimeout(AssertionError):
    """A condition was not met before its deadline (an AssertionError: pytest shows it plainly)."""


class ProcessDied(AssertionError):
    """A process the test relies on exited while the test waited on it."""


# --------------------------------------------------------------------------------------------
# Waiting and ports


def wait_until(
    predicate: Callable[[], T | None],
    *,
    timeout: float,
    description: str,
    interval: float = 0.05,
    ignore: tuple[type[BaseException], ...] = (),
    alive: Sequence["ManagedProcess"] = (),
) -> T:
    """Call `predicate` until it returns something truthy, and return that.

    Exceptions listed in `ignore` count as "not yet" (the last one is reported on timeout).
    Processes in `alive` are checked on every round, so a crash fails at once with its log
    instead of after the whole deadline.
    """
    deadline = time.monotonic() + timeout
    last: object = None
    last_error: BaseException | None = None
    while True:
        for process in alive:
            process.check_running()
        try:
            last = predicate()
            last_error = None
            if last:
                return last
        except ignore as error:
            last_error = error
        if time.monotonic() >= deadline:
            seen = f"last error: {last_error!r}" if last_error else f"last value: {last!r}"
            raise WaitTimeout(f"timed out after {timeout:g}s waiting for {description} ({seen})")
        time.sleep(interval)


_handed_out: set[int] = set()


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port(host: str = LOCALHOST) -> int:
    """A TCP port nobody listens on, never handed out twice in this test session.

    Ports come from below the kernel's ephemeral range: a port taken from inside it (bind to
    port 0) can be grabbed by some outgoing connection before our server binds it.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    high = min(_ephemeral_low(), 65536)
    low = max(1024, high - 12000)
    for _ in range(200):
        port = random.randrange(low, high)
        if port in _handed_out:
            continue
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((host, port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free TCP port found on {host}")


def consecutive_ports(count: int) -> int:
    """The first of `count` ports in a row that nothing listens on (for per-process ports)."""
    while True:
        first = free_port()
        if not any(port_accepts(first + n) for n in range(count)):
            return first


def child_pids(process: "ManagedProcess") -> list[int]:
    """Process ids of the children of `process` (a launcher's service processes)."""
    pid = process.pid
    return sorted(int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split())


def port_accepts(port: int, host: str = LOCALHOST) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


# --------------------------------------------------------------------------------------------
# Processes


class ManagedProcess:
    """A subprocess with its output in a log file, stopped for sure at the end of the test.

    It runs in its own session (process group), so stopping it also reaches any helper it
    started, and nothing outlives the test. Restarting appends to the same log.
    """

    def __init__(
        self,
        name: str,
        args: Sequence[str],
        *,
        log_dir: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.args = list(args)
        self.env = dict(os.environ if env is None else env)
        self.cwd = cwd
        self.log_path = log_dir / f"{name}.log"
        self._popen: subprocess.Popen[bytes] | None = None

    def start(self) -> "ManagedProcess":
        if self.running:
            raise RuntimeError(f"{self.name} is already running")
        with self.log_path.open("ab") as log:
            log.write(f"=== {time.strftime('%H:%M:%S')} start: {' '.join(self.args)}\n".encode())
            log.flush()
            # The child holds its own copy of the log descriptor; ours closes with the block.
            self._popen = subprocess.Popen(
                self.args,
                env=self.env,
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    @property
    def pid(self) -> int:
        if self._popen is None:
            raise RuntimeError(f"{self.name} was never started")
        return self._popen.pid

    @property
    def running(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self._popen is None else self._popen.poll()

    def check_running(self) -> None:
        if self._popen is not None and not self.running:
            raise ProcessDied(
                f"{self.name} exited with code {self.returncode}; last lines of its log:\n"
                f"{self.log_tail()}"
            )

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, then SIGKILL if it has not exited by the deadline. Returns the exit code."""
        if self._popen is None:
            return None
        if self.running:
            self._signal(signal.SIGTERM)
            try:
                self._popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self._note(f"did not exit {timeout:g}s after SIGTERM: SIGKILL")
                return self.kill()
        self._reap_group()
        self._note(f"exited with code {self._popen.returncode}")
        return self._popen.returncode

    def kill(self) -> int | None:
        """SIGKILL at once: a crash, as far as everybody else can tell."""
        if self._popen is None:
            return None
        if self.running:
            self._signal(signal.SIGKILL)
            self._popen.wait(10)
        self._reap_group()
        self._note(f"killed, exit code {self._popen.returncode}")
        return self._popen.returncode

    def log_tail(self, lines: int = 80) -> str:
        try:
            with self.log_path.open("rb") as log:
                log.seek(0, os.SEEK_END)
                log.seek(max(0, log.tell() - 64 * 1024))
                text = log.read().decode(errors="replace")
        except OSError as error:
            return f"(no log: {error})"
        # Some lines (Envoy's list of extensions) run to kilobytes: cut them.
        return "\n".join(line[:500] for line in text.splitlines()[-lines:])

    def _signal(self, signum: signal.Signals) -> None:
        # Signal the whole group we created; the process may just have exited.
        with suppress(ProcessLookupError):
            os.killpg(self.pid, signum)

    def _reap_group(self) -> None:
        # Anything the process left behind in its group goes with it.
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)

    def _note(self, text: str) -> None:
        with suppress(OSError), self.log_path.open("a") as log:
            log.write(f"=== {time.strftime('%H:%M:%S')} {self.name} {text}\n")


@dataclass
class ProcessGroup:
    """Every process one test started, to stop them all and to show their logs on failure."""

    log_dir: Path
    processes: list[ManagedProcess] = field(default_factory=list)

    def spawn(
        self, name: str, args: Sequence[str], *, env: Mapping[str, str] | None = None
    ) -> ManagedProcess:
        taken = {process.name for process in self.processes}
        unique, n = name, 2
        while unique in taken:
            unique, n = f"{name}-{n}", n + 1
        process = ManagedProcess(unique, args, log_dir=self.log_dir, env=env)
        self.processes.append(process)
        return process.start()

    def stop_all(self) -> None:
        # Reverse start order: Envoy before the control plane, clients before servers.
        for process in reversed(self.processes):
            process.stop()


# --------------------------------------------------------------------------------------------
# Databases


@contextmanager
def scratch_database(base_url: str, tmp_path: Path) -> Iterator[str]:
    """A database URL for one test: a new SQLite file, or a new uniquely named PostgreSQL
    database (created through `base_url`, dropped afterwards) when `base_url` is PostgreSQL."""
    url = make_url(base_url) if base_url else None
    if url is None or not url.drivername.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / 'chaosgw.db'}"
        return
    name = f"chaosgw_it_{uuid.uuid4().hex[:16]}"
    # psycopg wants a plain libpq URI: no SQLAlchemy "+driver" suffix.
    maintenance = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(maintenance, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(maintenance, autocommit=True) as connection:
            # FORCE: a killed control plane may leave a session behind.
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


# --------------------------------------------------------------------------------------------
# Admin API


class AdminError(AssertionError):
    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.status_code = response.status_code
        super().__init__(
            f"{response.request.method} {response.request.url.path} -> "
            f"{response.status_code}: {response.text[:2000]}"
        )


class AdminClient:
    """The admin API as an operator uses it: bearer token, ETags on updates."""

    def __init__(self, base_url: str, token: str) -> None:
        self.http = httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=10.0
        )

    def close(self) -> None:
        self.http.close()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A raw call, for tests about error answers."""
        return self.http.request(method, path, **kwargs)

    def _ok(self, response: httpx.Response) -> httpx.Response:
        if response.is_error:
            raise AdminError(response)
        return response

    def create(self, kind: str, spec: Mapping[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = self._ok(self.http.post(f"/api/v1/{kind}", json=spec)).json()
        return body

    def get(self, kind: str, name: str) -> tuple[dict[str, Any], str]:
        """The resource and its ETag."""
        response = self._ok(self.http.get(f"/api/v1/{kind}/{name}"))
        return response.json(), response.headers["etag"]

    def items(self, kind: str) -> Any:
        return self._ok(self.http.get(f"/api/v1/{kind}")).json()

    def update(self, kind: str, name: str, spec: Mapping[str, Any]) -> dict[str, Any]:
        """Replace a resource the safe way: If-Match with the ETag of a fresh GET."""
        _, etag = self.get(kind, name)
        response = self.http.put(f"/api/v1/{kind}/{name}", json=spec, headers={"If-Match": etag})
        body: dict[str, Any] = self._ok(response).json()
        return body

    def delete(self, kind: str, name: str) -> None:
        self._ok(self.http.delete(f"/api/v1/{kind}/{name}"))

    def nodes(self) -> list[dict[str, Any]]:
        """Every node, page after page."""
        items: list[dict[str, Any]] = []
        offset: int | None = 0
        while offset is not None:
            response = self.http.get("/api/v1/nodes", params={"offset": offset})
            body = self._ok(response).json()
            items.extend(body["items"])
            offset = body["next_offset"]
        return items

    def node(self, node_id: str) -> dict[str, Any] | None:
        return next((node for node in self.nodes() if node["id"] == node_id), None)

    def node_type(self, node_id: str, type_url: str) -> dict[str, Any]:
        """One node's sent/acked/nacked state for one resource type ({} if none yet)."""
        node = self.node(node_id)
        if node is None:
            return {}
        return next((t for t in node["types"] if t["type_url"] == type_url), {})


def listener_spec(name: str, port: int, address: str = LOCALHOST) -> dict[str, Any]:
    return {"name": name, "port": port, "address": address}


def service_spec(name: str, *ports: int, host: str = LOCALHOST) -> dict[str, Any]:
    return {"name": name, "endpoints": [{"host": host, "port": port} for port in ports]}


def route_spec(
    name: str, listener: str, prefix: str, backends: Mapping[str, int]
) -> dict[str, Any]:
    """A prefix route split over `backends` (service name -> weight)."""
    return {
        "name": name,
        "listener": listener,
        "match": {"path": {"type": "prefix", "value": prefix}},
        "action": {
            "type": "forward",
            "backends": [{"service": s, "weight": w} for s, w in backends.items()],
        },
    }


# --------------------------------------------------------------------------------------------
# Control plane


class ControlPlane:
    """`chaosgw controlplane` on fixed ports and one database, so it can be killed and restarted
    as the same control plane."""

    def __init__(self, processes: ProcessGroup, database_url: str) -> None:
        self.processes = processes
        self.database_url = database_url
        self.token = secrets.token_urlsafe(32)
        self.admin_port = free_port()
        self.xds_port = free_port()
        self.admin_url = f"http://{LOCALHOST}:{self.admin_port}"
        self.xds_address = f"{LOCALHOST}:{self.xds_port}"
        self.process: ManagedProcess | None = None
        self.admin = AdminClient(self.admin_url, self.token)

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CHAOSGW_")}
        env.update(
            CHAOSGW_MODE="development",
            CHAOSGW_ADMIN_TOKEN=self.token,
            DATABASE_URL=self.database_url,
            CHAOSGW_ADMIN_HOST=LOCALHOST,
            CHAOSGW_ADMIN_PORT=str(self.admin_port),
            CHAOSGW_XDS_HOST=LOCALHOST,
            CHAOSGW_XDS_PORT=str(self.xds_port),
        )
        return env

    def start(self, timeout: float = 20.0) -> "ControlPlane":
        if self.process is None:
            self.process = self.processes.spawn(
                "controlplane", [CHAOSGW, "controlplane"], env=self.env()
            )
        else:
            self.process.start()
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 20.0) -> None:
        assert self.process is not None
        wait_until(
            lambda: httpx.get(f"{self.admin_url}/readyz", timeout=1.0).status_code == 200,
            timeout=timeout,
            description=f"control plane /readyz on {self.admin_url}",
            ignore=(httpx.TransportError,),
            alive=[self.process],
        )
        # xDS is served by the same process, but make sure its port is open too.
        wait_until(
            lambda: port_accepts(self.xds_port),
            timeout=timeout,
            description=f"control plane xDS port {self.xds_address}",
            alive=[self.process],
        )

    def stop(self, timeout: float = 10.0) -> int | None:
        return None if self.process is None else self.process.stop(timeout)

    def kill(self) -> int | None:
        return None if self.process is None else self.process.kill()

    def close(self) -> None:
        self.admin.close()


# --------------------------------------------------------------------------------------------
# Envoy


class Envoy:
    """One Envoy started by `chaosgw envoy`, and a reader of its admin interface."""

    def __init__(
        self,
        processes: ProcessGroup,
        xds_address: str,
        *,
        group: str = "default",
        node_id: str | None = None,
        log_level: str = "info",
        tls_dir: Path | None = None,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.group = group
        self.node_id = node_id or f"envoy-{uuid.uuid4().hex[:8]}"
        self.admin_port = free_port()
        self.admin = httpx.Client(base_url=f"http://{LOCALHOST}:{self.admin_port}", timeout=5.0)
        args = [
            CHAOSGW,
            "envoy",
            "--group",
            group,
            "--id",
            self.node_id,
            "--xds",
            xds_address,
            "--admin-port",
            str(self.admin_port),
            # Envoys on one machine need distinct shared-memory regions; the port is unique.
            "--base-id",
            str(self.admin_port),
            "--log-level",
            log_level,
            # mTLS to the control plane with this client certificate directory.
            *(["--tls-dir", str(tls_dir)] if tls_dir is not None else []),
            *extra_args,
        ]
        self.process = processes.spawn(f"envoy-{self.node_id}", args)

    def close(self) -> None:
        self.admin.close()

    def admin_text(self, path: str) -> str:
        response = self.admin.get(path)
        response.raise_for_status()
        return response.text

    def is_live(self) -> bool:
        # /ready answers 200 "LIVE" only once the initial xDS config has been applied.
        try:
            response = self.admin.get("/ready", timeout=1.0)
        except httpx.TransportError:
            return False
        return response.status_code == 200 and response.text.strip() == "LIVE"

    def wait_live(self, timeout: float = 15.0) -> None:
        wait_until(
            self.is_live,
            timeout=timeout,
            description=f"Envoy {self.node_id} /ready to say LIVE",
            alive=[self.process],
        )

    def wait_admin(self, timeout: float = 15.0) -> None:
        """Envoy's admin interface answers (it may still wait for its first config)."""
        wait_until(
            lambda: port_accepts(self.admin_port),
            timeout=timeout,
            description=f"Envoy {self.node_id} admin port {self.admin_port}",
            alive=[self.process],
        )

    def stats(self, pattern: str | None = None) -> dict[str, int]:
        """Counters and gauges, optionally only those whose name matches the regex `pattern`."""
        params = {"format": "json"}
        if pattern:
            params["filter"] = pattern
        response = self.admin.get("/stats", params=params)
        response.raise_for_status()
        return {
            stat["name"]: int(stat["value"])
            for stat in response.json()["stats"]
            if "value" in stat  # histograms have no single value
        }

    def stat(self, name: str) -> int:
        """One counter or gauge; 0 if Envoy has not created it (yet)."""
        # Envoy's filter is RE2, which accepts every escape re.escape produces.
        return self.stats(f"^{re.escape(name)}$").get(name, 0)

    def config_dump(self, resource: str | None = None) -> dict[str, Any]:
        params = {"resource": resource} if resource else {}
        response = self.admin.get("/config_dump", params=params)
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def dynamic_listener(self, name: str) -> dict[str, Any] | None:
        """The listener's config_dump entry: active_state, warming_state, error_state."""
        for entry in self.config_dump("dynamic_listeners").get("configs", []):
            if entry.get("name") == name:
                found: dict[str, Any] = entry
                return found
        return None

    def active_listener_version(self, name: str) -> str | None:
        entry = self.dynamic_listener(name)
        if entry is None or "active_state" not in entry:
            return None
        version: str = entry["active_state"].get("version_info", "")
        return version

    def route_config_versions(self) -> dict[str, str]:
        """RDS route configuration name -> the version Envoy applied."""
        dump = self.config_dump("dynamic_route_configs")
        return {
            entry["route_config"]["name"]: entry.get("version_info", "")
            for entry in dump.get("configs", [])
        }

    def cluster_versions(self) -> dict[str, str]:
        dump = self.config_dump("dynamic_active_clusters")
        return {
            entry["cluster"]["name"]: entry.get("version_info", "")
            for entry in dump.get("configs", [])
        }


# --------------------------------------------------------------------------------------------
# Demo upstreams


class Upstream:
    """`chaosgw upstream`: answers every request with JSON naming itself, echoes WebSockets."""

    def __init__(self, processes: ProcessGroup, name: str, port: int, host: str) -> None:
        self.name = name
        self.host = host
        self.port = port
        self.process = processes.spawn(
            f"upstream-{name}",
            [CHAOSGW, "upstream", "--name", name, "--port", str(port), "--host", host],
        )

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def wait_serving(self, timeout: float = 10.0) -> None:
        def answers() -> bool:
            response = httpx.get(f"{self.url}/", timeout=1.0)
            return bool(response.headers.get("x-upstream") == self.name)

        wait_until(
            answers,
            timeout=timeout,
            description=f"upstream {self.name} on {self.url}",
            ignore=(httpx.TransportError,),
            alive=[self.process],
        )

    def start(self) -> None:
        """Start it again after `stop()` or `kill()`."""
        self.process.start()
        self.wait_serving()

    def stop(self) -> int | None:
        return self.process.stop()

    def kill(self) -> int | None:
        return self.process.kill()


# --------------------------------------------------------------------------------------------
# Traffic through Envoy


@dataclass
class Gateway:
    """A control plane, one Envoy it configures, and one listener of that Envoy."""

    control_plane: ControlPlane
    envoy: Envoy
    listener: str
    port: int

    @property
    def admin(self) -> AdminClient:
        return self.control_plane.admin

    def url(self, path: str = "/", scheme: str = "http") -> str:
        return f"{scheme}://{LOCALHOST}:{self.port}{path}"

    def alive(self) -> list[ManagedProcess]:
        """The processes whose death should fail a wait at once."""
        return [p for p in (self.envoy.process, self.control_plane.process) if p is not None]

    def add_service(self, name: str, *upstreams: "Upstream") -> None:
        self.admin.create("services", service_spec(name, *(u.port for u in upstreams)))

    def add_route(self, name: str, prefix: str, backends: Mapping[str, int]) -> None:
        self.admin.create("routes", route_spec(name, self.listener, prefix, backends))

    def set_route(self, name: str, prefix: str, backends: Mapping[str, int]) -> None:
        self.admin.update("routes", name, route_spec(name, self.listener, prefix, backends))


def upstream_of(response: httpx.Response) -> str | None:
    name: str | None = response.headers.get("x-upstream")
    return name


def wait_for_response(
    client: httpx.Client,
    url: str,
    *,
    status: int = 200,
    upstream: str | None = None,
    timeout: float = 5.0,
    alive: Sequence[ManagedProcess] = (),
    headers: Mapping[str, str] | None = None,
) -> httpx.Response:
    """GET `url` (with `headers`) until it answers `status` (and, if given, comes from
    `upstream`).

    This is how a test knows a config change has reached Envoy: by what a client sees.
    """
    seen: list[str] = []

    def check() -> httpx.Response | None:
        response = client.get(url, timeout=1.0, headers=headers)
        seen[:] = [f"{response.status_code} from {upstream_of(response)}"]
        wanted = upstream is None or upstream_of(response) == upstream
        return response if response.status_code == status and wanted else None

    want = f"{status}" + (f" from upstream {upstream}" if upstream else "")
    try:
        return wait_until(
            check,
            timeout=timeout,
            description=f"GET {url} to answer {want}",
            ignore=(httpx.TransportError,),
            alive=alive,
        )
    except WaitTimeout as error:
        raise WaitTimeout(f"{error}; last answer: {seen or 'none'}") from None
