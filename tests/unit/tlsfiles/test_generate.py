"""`chaosgw certs generate`: a CA and every leaf, kept on a second run, reissued on --renew."""

from pathlib import Path

import pytest
from cryptography import x509

from controlplane.cli import main
from tlsfiles.directory import TlsDirectory
from tlsfiles.identities import Identity


def test_every_directory_gets_a_leaf_of_one_ca(tmp_path: Path) -> None:
    assert main(["certs", "generate", "--dir", str(tmp_path), "--groups", "default,edge"]) == 0
    ca = x509.load_pem_x509_certificate((tmp_path / "ca" / "ca.crt").read_bytes())
    identities = {}
    for name in ("controlplane", "extauthz", "ratelimit", "envoy-default", "envoy-edge"):
        files = TlsDirectory(tmp_path / name).files
        x509.load_pem_x509_certificate(files.certificate).verify_directly_issued_by(ca)
        identities[name] = Identity.of_pem(files.certificate)
    assert identities == {
        "controlplane": Identity(),
        "extauthz": Identity(services=frozenset({"extauthz"})),
        "ratelimit": Identity(services=frozenset({"ratelimit"})),
        "envoy-default": Identity(groups=frozenset({"default"})),
        "envoy-edge": Identity(groups=frozenset({"edge"})),
    }
    # The CA's key stays in ca/ only.
    assert [path.parent.name for path in tmp_path.glob("*/ca.key")] == ["ca"]


def test_a_second_run_keeps_everything_and_renew_keeps_the_ca(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    arguments = ["certs", "generate", "--dir", str(tmp_path)]
    main(arguments)
    ca, leaf = (
        (tmp_path / "ca" / "ca.crt").read_bytes(),
        (tmp_path / "ratelimit/tls.crt").read_bytes(),
    )
    capsys.readouterr()
    main(arguments)
    assert "every certificate is there already" in capsys.readouterr().out
    assert (tmp_path / "ratelimit/tls.crt").read_bytes() == leaf
    main([*arguments, "--renew"])
    assert (tmp_path / "ratelimit/tls.crt").read_bytes() != leaf
    assert (tmp_path / "ca" / "ca.crt").read_bytes() == ca


def test_a_group_that_cannot_be_named_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["certs", "generate", "--dir", str(tmp_path), "--groups", "a/b"]) == 2
    assert "node group 'a/b'" in capsys.readouterr().err
