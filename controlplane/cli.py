"""The `chaosgw` command: every process of the gateway starts from here."""

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TypeVar

from pydantic import ValidationError

from controlplane.secretfiles import SecretFileError, apply_secret_files

if TYPE_CHECKING:
    from serviceprocess.settings import ServiceSettings

T = TypeVar("T")

EXTAUTHZ_HELP = (
    "run the auth service (API keys, JWTs, server-side sessions, OAuth 2.0 introspection, owner "
    "rules), one process per core (CHAOSGW_EXTAUTHZ_* variables)"
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="chaosgw", description=__doc__)
    parser.add_argument("--version", action="version", version=f"chaosgw {_version()}")
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
        help=EXTAUTHZ_HELP,
        description=f"{EXTAUTHZ_HELP}: it decides the routes Envoy cannot decide alone.",
    )
    commands.add_parser(
        "migrate",
        help="bring the database schema (DATABASE_URL) up to date; does nothing when it is",
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
        sub.add_argument(
            "--tls-dir",
            type=Path,
            default=os.environ.get("CHAOSGW_ENVOY_TLS_DIR") or None,
            help="the node's client ca.crt, tls.crt, tls.key for mTLS to the control plane "
            "(default: CHAOSGW_ENVOY_TLS_DIR; none: plaintext, development only)",
        )
    bootstrap.add_argument(
        "--sds-dir",
        type=Path,
        default=None,
        help="with --tls-dir: where to write the SDS files the bootstrap names",
    )
    envoy.add_argument("--base-id", type=int, default=None)
    envoy.add_argument("--log-level", default="info")
    envoy.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="worker threads (default: one per CPU of the container's CPU limit, else per core)",
    )
    envoy.add_argument(
        "--drain-time-s",
        type=int,
        default=None,
        help="how long a drain (`chaosgw envoy-drain`, a listener change) lets connections close",
    )

    certs = commands.add_parser("certs", help="certificates of the gateway's mTLS")
    certs_commands = certs.add_subparsers(dest="certs_command", required=True)
    generate = certs_commands.add_parser(
        "generate",
        help="write a CA and leaf certificates (control plane, services, one per node group); "
        "keeps what exists",
    )
    generate.add_argument("--dir", type=Path, required=True, help="where to write them")
    generate.add_argument(
        "--groups", default="default", help="Envoy node groups, comma-separated (default: default)"
    )
    generate.add_argument(
        "--hosts",
        default="",
        help="names and addresses the servers answer on besides localhost, comma-separated",
    )
    generate.add_argument("--renew", action="store_true", help="reissue every leaf certificate")
    kube = certs_commands.add_parser(
        "kubernetes",
        help="keep a CA and leaf certificates in Kubernetes Secrets (the chart's certgen Job); "
        "creates what is missing, keeps what exists",
    )
    kube.add_argument("--namespace", required=True)
    kube.add_argument("--secret-prefix", required=True, help="Secrets <prefix>-ca, <prefix>-*-tls")
    kube.add_argument("--leaf-hours", type=int, default=2160, help="lifetime of new leaves")
    kube.add_argument(
        "--identity",
        action="append",
        required=True,
        help="NAME=URI,HOST,...: the Secret <prefix>-NAME-tls and what its certificate names",
    )

    drain = commands.add_parser(
        "envoy-drain",
        help="drain a running Envoy's listeners and wait for its connections to close (preStop)",
    )
    drain.add_argument(
        "--admin-address", default=None, help="default: CHAOSGW_ENVOY_ADMIN_ADDRESS or 127.0.0.1"
    )
    drain.add_argument(
        "--admin-port", type=int, default=None, help="default: CHAOSGW_ENVOY_ADMIN_PORT or 9901"
    )
    drain.add_argument(
        "--timeout-s", type=float, default=30.0, help="longest wait (Envoy's --drain-time-s)"
    )
    drain.add_argument(
        "--settle-s",
        type=float,
        default=5.0,
        help="shortest wait: new connections still arrive while the pod leaves the Service",
    )

    upstream = commands.add_parser("upstream", help="run a demo upstream that echoes requests")
    upstream.add_argument("--name", required=True)
    upstream.add_argument("--host", default="127.0.0.1")
    upstream.add_argument("--port", type=int, required=True)

    args = parser.parse_args(argv)
    try:
        apply_secret_files()
    except SecretFileError as error:
        print(f"chaosgw: invalid settings: {error}", file=sys.stderr)
        return 2
    if args.command == "controlplane":
        return _controlplane()
    if args.command == "migrate":
        return _migrate()
    if args.command == "ratelimit":
        from ratelimit.settings import Settings as RateLimitSettings

        return _service("ratelimit", RateLimitSettings)
    if args.command == "extauthz":
        from extauthz.settings import Settings as ExtAuthzSettings

        return _service("extauthz", ExtAuthzSettings)
    if args.command == "run":
        from controlplane.devstack import DevPorts, run

        return run(DevPorts(args.port_offset))
    if args.command == "envoy-drain":
        from controlplane.envoydrain import main as drain_main

        return drain_main(args.admin_address, args.admin_port, args.timeout_s, args.settle_s)
    if args.command in ("envoy", "bootstrap"):
        return _envoy(args)
    if args.command == "certs":
        return _certs(args)
    from controlplane.demo.upstream import main as upstream_main

    return upstream_main(["--name", args.name, "--host", args.host, "--port", str(args.port)])


def _version() -> str:
    try:
        return metadata.version("chaos-gateway")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def _controlplane() -> int:
    from controlplane.main import run
    from controlplane.settings import Settings
    from controlplane.store.database import SchemaBehindError

    settings = _settings(Settings)
    if settings is None:
        return 2
    try:
        run(settings)
    except SchemaBehindError as error:
        print(f"chaosgw: {error}", file=sys.stderr)
        return 2
    return 0


def _migrate() -> int:
    from controlplane.settings import DatabaseSettings
    from controlplane.store.database import Database

    settings = _settings(DatabaseSettings)
    if settings is None:
        return 2
    database = Database(settings.database_url)
    try:
        database.migrate()
        print("chaosgw: the database schema is up to date")
    finally:
        database.dispose()
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
    from controlplane.launcher import EnvoyNode, envoy_argv, render_bootstrap, write_xds_sds

    host, _, port = args.xds.rpartition(":")
    node = EnvoyNode(
        group=args.group,
        node_id=args.id,
        xds_host=host.strip("[]"),
        xds_port=int(port),
        admin_address=args.admin_address,
        admin_port=args.admin_port,
        tls_dir=args.tls_dir,
    )
    if args.command == "bootstrap":
        if node.tls_dir is not None:
            if args.sds_dir is None:
                print("chaosgw bootstrap: --tls-dir needs --sds-dir", file=sys.stderr)
                return 2
            args.sds_dir.mkdir(parents=True, exist_ok=True)
            write_xds_sds(node, args.sds_dir)
        print(render_bootstrap(node, sds_dir=args.sds_dir))
        return 0
    scratch = Path(tempfile.mkdtemp(prefix="chaosgw-envoy-"))
    if node.tls_dir is not None:
        write_xds_sds(node, scratch)
    path = scratch / "bootstrap.yaml"
    path.write_text(render_bootstrap(node, sds_dir=scratch))
    return _become(
        envoy_argv(
            path,
            base_id=args.base_id,
            log_level=args.log_level,
            concurrency=args.concurrency,
            drain_time_s=args.drain_time_s,
        )
    )


def _certs(args: argparse.Namespace) -> int:
    if args.certs_command == "kubernetes":
        return _certs_kubernetes(args)
    from tlsfiles.generate import Plan, describe, generate, parse_names
    from tlsfiles.identities import InvalidGroupError

    try:
        plan = Plan(parse_names(args.groups), parse_names(args.hosts))
        written = generate(args.dir, plan, renew=args.renew)
    except (InvalidGroupError, OSError) as error:
        print(f"chaosgw certs: {error}", file=sys.stderr)
        return 2
    print(describe(args.dir, written))
    return 0


def _certs_kubernetes(args: argparse.Namespace) -> int:
    import httpx

    from tlsfiles.kubernetes import Identity, KubernetesError, SecretsApi, ensure

    try:
        identities = [Identity.parse(value) for value in args.identity]
        api = SecretsApi.in_cluster(args.namespace)
        created = ensure(api, args.secret_prefix, identities, leaf_hours=args.leaf_hours)
    except (ValueError, OSError, KubernetesError, httpx.HTTPError) as error:
        print(f"chaosgw certs kubernetes: {error}", file=sys.stderr)
        return 2
    print(f"created: {', '.join(created) or 'nothing (every Secret exists)'}")
    return 0


def _become(argv: list[str]) -> NoReturn:
    """Replace this process, so that signals and the exit status are the program's own."""
    os.execv(argv[0], argv)  # noqa: S606 - argv is built here, not parsed from a shell string


if __name__ == "__main__":
    sys.exit(main())
