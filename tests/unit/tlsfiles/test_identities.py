"""Identities: a certificate's SAN URIs name its node groups and service identities."""

import pytest

from tlsfiles.identities import (
    Identity,
    InvalidGroupError,
    UnknownServiceError,
    group_uri,
    service_uri,
)
from tlsfiles.issue import LeafRequest, issue_leaf, new_ca


def test_a_certificate_names_its_group_and_services() -> None:
    leaf = issue_leaf(
        new_ca(),
        LeafRequest(
            "x",
            uris=(group_uri("edge"), service_uri("ratelimit"), "spiffe://other/group/admin"),
            hosts=("localhost",),
            client=True,
        ),
    )
    assert Identity.of_pem(leaf.certificate) == Identity(
        groups=frozenset({"edge"}), services=frozenset({"ratelimit"})
    )


def test_a_certificate_without_uris_names_nothing() -> None:
    leaf = issue_leaf(new_ca(), LeafRequest("x", hosts=("localhost",), server=True))
    assert Identity.of_pem(leaf.certificate) == Identity()


def test_unknown_services_and_foreign_trust_domains_are_ignored() -> None:
    identity = Identity.of_uris(
        ["spiffe://chaosgw/service/admin", "spiffe://elsewhere/service/extauthz"]
    )
    assert identity == Identity()


@pytest.mark.parametrize("group", ["", "a/b", "a b", "-x", "x" * 64])
def test_group_names_that_do_not_fit_a_uri_are_refused(group: str) -> None:
    with pytest.raises(InvalidGroupError):
        group_uri(group)


def test_only_the_gateways_services_have_an_identity() -> None:
    with pytest.raises(UnknownServiceError, match="extauthz, ratelimit"):
        service_uri("billing")
