"""The `chaosgw` command: every process of the gateway starts from here."""

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TypeVar

from pydantic import ValidationError

if TYPE_CHECKING:
    from serviceprocess.settings import ServiceSettings

T = TypeVar("T")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="chaosgw", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser(
        "controlplane", help="serve the admin API and xDS (configured by CHAOSGW_* variables)"
    )
    commands.add_parser(
        "ratelimit",
        help="run the rate-limit service, one process per core (CHAOSGW_RATELIMIT_* variables)",
    )
    commands.add_parser(
        "extauthz",
        help="run the auth service (API keys), one process per core (CHAOSGW_EXTAUTHZ_* variables)",
    )
    local = commands.add_parser("run", help="run the whole gateway locally with a demo config")
    local.add_argument(
        "--port-offset", type=int, default=0, help="shift every port, to run beside another one"
    )

    envoy = commands.add_parser("envoy", help="render the bootstrap and start Envoy")
    bootstrap = commands.add_parser("bootstrap", help="print the Envoy bootstrap")
    for sub in (envoy, bootstrap):
        sub.add_argument("--group", default="default", help="node group (node.cluster)")
        sub.add_argument("--id", default="", help="node id (default: group-host-pid)")
        sub.add_argument("--xds", default="127.0.0.1:18000", help="control plane HOST:PORT")
        sub.add_argument("--admin-address", default="127.0.0.1")
        sub.add_argument("--admin-port", type=int, default=9901)
    envoy.add_argument("--base-id", type=int, default=None)
    envoy.add_argument("--log-level", default="info")

    upstream = commands.add_parser("upstream", help="run a demo upstream that echoes requests")
    upstream.add_argument("--name", required=True)
    upstream.add_argument("--host", default="127.0.0.1")
    upstream.add_argument("--port", type=int, required=True)

    args = parser.parse_args(argv)
    if args.command == "controlplane":
        return _controlplane()
    if args.command == "ratelimit":
        from ratelimit.settings import Settings as RateLimitSettings

        return _service("ratelimit", RateLimitSettings)
    if args.command == "extauthz":
        from extauthz.settings import Settings as ExtAuthzSettings

        return _service("extauthz", ExtAuthzSettings)
    if args.command == "run":
        from controlplane.devstack import DevPorts, run

        return run(DevPorts(args.port_offset))
    if args.command in ("envoy", "bootstrap"):
        return _envoy(args)
    from controlplane.demo.upstream import main as upstream_main

    return upstream_main(["--name", args.name, "--host", args.host, "--port", str(args.port)])


def _controlplane() -> int:
    from controlplane.main import run
    from controlplane.settings import Settings

    settings = _settings(Settings)
    if settings is None:
        return 2
    run(settings)
    return 0


def _service(name: str, load: Callable[[], "ServiceSettings"]) -> int:
    from serviceprocess.launcher import run

    settings = _settings(load)
    return 2 if settings is None else run(name, settings)


def _settings(load: Callable[[], T]) -> T | None:
    """Settings from the environment, or None after saying what is wrong with them."""
    try:
        return load()
    except ValidationError as error:
        for problem in error.errors():
            print(f"chaosgw: invalid settings: {problem['msg']}", file=sys.stderr)
        return None


def _envoy(args: argparse.Namespace) -> int:
    from controlplane.launcher import EnvoyNode, envoy_argv, render_bootstrap

    host, _, port = args.xds.rpartition(":")
    node = EnvoyNode(
        group=args.group,
        node_id=args.id,
        xds_host=host.strip("[]"),
        xds_port=int(port),
        admin_address=args.admin_address,
        admin_port=args.admin_port,
    )
    bootstrap = render_bootstrap(node)
    if args.command == "bootstrap":
        print(bootstrap)
        return 0
    path = Path(tempfile.mkdtemp(prefix="chaosgw-envoy-")) / "bootstrap.yaml"
    path.write_text(bootstrap)
    return _become(envoy_argv(path, base_id=args.base_id, log_level=args.log_level))


def _become(argv: list[str]) -> NoReturn:
    """Replace this process, so that signals and the exit status are the program's own."""
    os.execv(argv[0], argv)  # noqa: S606 - argv is built here, not parsed from a shell string


if __name__ == "__main__":
    sys.exit(main())
