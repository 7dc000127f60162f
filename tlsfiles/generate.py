"""`chaosgw certs generate`: a CA and every leaf the gateway needs, in TLS directories.

Layout under the target directory: ca/ (ca.crt, ca.key: the CA's key stays here), controlplane/
(xDS and admin server), extauthz/ and ratelimit/ (server for Envoy, client for their own ADS
subscription), envoy-<group>/ (client certificate naming the node group). Run again, it keeps
the CA and every existing leaf, and adds what is missing; `renew` reissues the leaves.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tlsfiles.directory import CA_FILE, CERT_FILE, KEY_FILE, TlsFiles, write_directory, write_file
from tlsfiles.identities import SERVICES, group_uri, service_uri
from tlsfiles.issue import Issued, LeafRequest, issue_leaf, new_ca

CA_DIR = "ca"
CA_KEY_FILE = "ca.key"
CONTROLPLANE_DIR = "controlplane"
DEFAULT_HOSTS = ("localhost", "127.0.0.1", "::1")


def envoy_dir(group: str) -> str:
    return f"envoy-{group}"


@dataclass(frozen=True)
class Plan:
    """What to issue: node groups, and the names servers answer on besides DEFAULT_HOSTS."""

    groups: tuple[str, ...]
    hosts: tuple[str, ...] = ()

    def leaves(self) -> dict[str, LeafRequest]:
        """Directory name → what its certificate names."""
        hosts = tuple(dict.fromkeys((*DEFAULT_HOSTS, *self.hosts)))
        leaves = {
            CONTROLPLANE_DIR: LeafRequest("chaosgw controlplane", hosts=hosts, server=True),
        }
        for service in SERVICES:
            leaves[service] = LeafRequest(
                f"chaosgw {service}",
                uris=(service_uri(service),),
                hosts=hosts,
                server=True,
                client=True,
            )
        for group in self.groups:
            leaves[envoy_dir(group)] = LeafRequest(
                f"chaosgw envoy {group}", uris=(group_uri(group),), client=True
            )
        return leaves


def load_or_create_ca(directory: Path) -> Issued:
    """The CA under directory/ca, made on first use."""
    certificate, key = directory / CA_DIR / CA_FILE, directory / CA_DIR / CA_KEY_FILE
    if certificate.exists() and key.exists():
        return Issued(certificate.read_bytes(), key.read_bytes())
    ca = new_ca()
    (directory / CA_DIR).mkdir(parents=True, exist_ok=True)
    write_file(key, ca.key, private=True)
    write_file(certificate, ca.certificate)
    return ca


def generate(directory: Path, plan: Plan, *, renew: bool = False) -> list[Path]:
    """Issue what is missing (everything when `renew`); the directories written."""
    ca = load_or_create_ca(directory)
    written = []
    for name, request in plan.leaves().items():
        target = directory / name
        if not renew and all((target / file).exists() for file in (CA_FILE, CERT_FILE, KEY_FILE)):
            continue
        leaf = issue_leaf(ca, request)
        write_directory(target, TlsFiles(ca.certificate, leaf.certificate, leaf.key))
        written.append(target)
    return written


def parse_names(value: str) -> tuple[str, ...]:
    """A comma-separated list, empty items dropped."""
    return tuple(item.strip() for item in value.split(",") if item.strip())


def describe(directory: Path, written: Sequence[Path]) -> str:
    if not written:
        return f"{directory}: every certificate is there already (--renew reissues them)"
    return "\n".join(f"wrote {path}/{{ca.crt,tls.crt,tls.key}}" for path in written)
