"""`chaosgw bootstrap --tls-dir`: the ADS cluster uses mTLS through SDS files that name the
certificate files (never their bytes), and Envoy accepts the result."""

import json
import subprocess
from pathlib import Path

import pytest

from controlplane.cli import main
from controlplane.launcher import XDS_CA_SDS, XDS_CLIENT_SDS, envoy_binary
from tlsfiles.generate import Plan, envoy_dir, generate


def test_a_tls_bootstrap_names_the_files_and_envoy_accepts_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    generate(tmp_path / "certs", Plan(("edge",)))
    tls_dir = tmp_path / "certs" / envoy_dir("edge")
    arguments = ["bootstrap", "--group", "edge", "--xds", "cp.example:18000"]
    assert main([*arguments, "--tls-dir", str(tls_dir), "--sds-dir", str(tmp_path / "sds")]) == 0
    bootstrap = tmp_path / "bootstrap.yaml"
    bootstrap.write_text(capsys.readouterr().out)
    assert "UpstreamTlsContext" in bootstrap.read_text()
    client = json.loads((tmp_path / "sds" / XDS_CLIENT_SDS).read_text())["resources"][0]
    assert client["tls_certificate"]["private_key"] == {"filename": f"{tls_dir}/tls.key"}
    ca = json.loads((tmp_path / "sds" / XDS_CA_SDS).read_text())["resources"][0]
    assert ca["validation_context"]["match_typed_subject_alt_names"] == [
        {"san_type": "DNS", "matcher": {"exact": "cp.example"}}
    ]
    for written in (bootstrap, *(tmp_path / "sds").iterdir()):
        assert "PRIVATE KEY" not in written.read_text()
    checked = subprocess.run(
        [str(envoy_binary()), "--mode", "validate", "-c", str(bootstrap)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr[-2000:]


def test_a_tls_bootstrap_needs_a_place_for_its_sds_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bootstrap", "--tls-dir", str(tmp_path)]) == 2
    assert "--tls-dir needs --sds-dir" in capsys.readouterr().err
