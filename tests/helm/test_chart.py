"""The Helm chart as helm renders it: lint, Kubernetes schemas, golden renders, and what an SRE
sees for each values file (defaults, production HA, minimal development)."""

import base64
import os
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from charttools import values_table
from tests.helm.chart import (
    CHART,
    NAMESPACE,
    RELEASE,
    VALUE_SETS,
    Manifest,
    env_of,
    find,
    helm,
    pod_spec,
    refusal,
    render,
    render_text,
    template_args,
)
from tests.helm.fake_kubernetes import fake_cluster

TESTDATA = Path(__file__).resolve().parent / "testdata"
# The chart's kubeVersion floor up to the newest schemas kubernetes-validate ships.
KUBERNETES_VERSIONS = ["1.29.0", "1.31.0", "1.33.0", "1.35.0", "1.37.0"]
# Custom resources of operators the chart can use; Kubernetes' schemas do not know them.
CUSTOM_KINDS = {
    ("cert-manager.io/v1", "Certificate"),
    ("cert-manager.io/v1", "Issuer"),
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("monitoring.coreos.com/v1", "PodMonitor"),
}
WORKLOADS = {"Deployment", "DaemonSet", "Job"}


@pytest.fixture(scope="module", params=sorted(VALUE_SETS))
def value_set(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture(scope="module")
def manifests(value_set: str) -> list[Manifest]:
    return render(VALUE_SETS[value_set])


def test_lint_strict(value_set: str) -> None:
    values = VALUE_SETS[value_set]
    args = ["lint", "--strict", str(CHART)] + (["--values", str(values)] if values else [])
    result = helm(*args)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_manifest_is_valid_kubernetes(manifests: list[Manifest], version: str) -> None:
    problems = []
    for manifest in manifests:
        if (manifest["apiVersion"], manifest["kind"]) in CUSTOM_KINDS:
            continue
        try:
            kubernetes_validate.validate(manifest, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            problems.append(f"{manifest['kind']} {manifest['metadata']['name']}: {error.message}")
    assert not problems, "\n".join(problems)


def _masked(text: str) -> str:
    """The render with what helm draws at random (generated secrets) masked."""
    docs = [doc for doc in yaml.safe_load_all(text) if doc]
    for doc in docs:
        if doc["kind"] == "Secret" and doc["metadata"]["name"].endswith("-generated"):
            doc["data"] = {key: "<generated>" for key in doc["data"]}
    return yaml.safe_dump_all(docs, sort_keys=False)


def test_golden_render(value_set: str) -> None:
    rendered = _masked(render_text(VALUE_SETS[value_set]))
    golden = TESTDATA / f"{value_set}.yaml"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(rendered)
    assert golden.exists(), f"{golden} is missing: run with UPDATE_GOLDEN=1"
    assert rendered == golden.read_text(), f"render differs from {golden} (UPDATE_GOLDEN=1)"


def test_every_container_runs_locked_down(manifests: list[Manifest]) -> None:
    for workload in (m for m in manifests if m["kind"] in WORKLOADS):
        spec = pod_spec(workload)
        name = workload["metadata"]["name"]
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        tmp = {"name": "tmp", "emptyDir": {}}
        assert tmp in spec["volumes"], name
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["capabilities"]["drop"] == ["ALL"], name
            assert context["allowPrivilegeEscalation"] is False, name
            assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"], name
            assert container["resources"]["limits"]["cpu"], name


def test_production_defaults() -> None:
    manifests = render(None)
    control = find(manifests, "Deployment", "gw-chaosgw-controlplane")
    assert control["spec"]["replicas"] >= 2
    container = pod_spec(control)["containers"][0]
    env = env_of(container)
    assert env["CHAOSGW_MODE"] == "production"
    assert env["CHAOSGW_MIGRATE_ON_START"] == "false"
    assert env["DATABASE_URL"] == {"secretKeyRef": {"name": "chaosgw-database", "key": "url"}}
    # Envoy reaches every auth/rate-limit replica through the headless Services' DNS names.
    assert env["CHAOSGW_EXTAUTHZ_ENDPOINTS"] == "gw-chaosgw-extauthz.chaos.svc:18300"
    assert env["CHAOSGW_RATELIMIT_ENDPOINTS"] == "gw-chaosgw-ratelimit.chaos.svc:18100"
    for service in ("extauthz", "ratelimit", "xds"):
        assert find(manifests, "Service", f"gw-chaosgw-{service}")["spec"]["clusterIP"] == "None"
    assert env["CHAOSGW_XDS_TLS_DIR"] == env["CHAOSGW_ENVOY_TLS_DIR"] == "/etc/chaosgw/tls"
    assert "CHAOSGW_XDS_PLAINTEXT_REASON" not in env

    migrate = find(manifests, "Job", "gw-chaosgw-migrate")
    assert migrate["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert pod_spec(migrate)["containers"][0]["args"] == ["migrate"]
    certgen = find(manifests, "Job", "gw-chaosgw-certgen")
    assert pod_spec(certgen)["containers"][0]["args"][:2] == ["certs", "kubernetes"]
    # The certificates exist before the migration and every pod.
    weight = "helm.sh/hook-weight"
    assert int(certgen["metadata"]["annotations"][weight]) < int(
        migrate["metadata"]["annotations"][weight]
    )

    for component in ("controlplane", "envoy", "extauthz", "ratelimit"):
        find(manifests, "PodDisruptionBudget", f"gw-chaosgw-{component}")
    for component in ("envoy", "extauthz", "ratelimit"):
        hpa = find(manifests, "HorizontalPodAutoscaler", f"gw-chaosgw-{component}")
        assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"


def test_envoy_drains_before_it_stops() -> None:
    envoy = find(render(None), "Deployment", "gw-chaosgw-envoy")
    spec = pod_spec(envoy)
    container = spec["containers"][0]
    drain = container["lifecycle"]["preStop"]["exec"]["command"]
    assert drain == ["chaosgw", "envoy-drain", "--timeout-s=30"]
    assert spec["terminationGracePeriodSeconds"] > 30
    assert "--drain-time-s=30" in container["args"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"


def test_generated_secrets_are_kept_on_uninstall() -> None:
    secret = find(render(None), "Secret", "gw-chaosgw-generated")
    assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert {len(value) for value in secret["data"].values()} == {64}  # 48 random bytes, base64


def test_existing_admin_secret_replaces_the_generated_one() -> None:
    manifests = render(None, "secrets.existingSecret=ops-admin")
    assert not [m for m in manifests if m["metadata"]["name"] == "gw-chaosgw-generated"]
    env = env_of(
        pod_spec(find(manifests, "Deployment", "gw-chaosgw-controlplane"))["containers"][0]
    )
    assert env["CHAOSGW_ADMIN_TOKEN"] == {
        "secretKeyRef": {"name": "ops-admin", "key": "admin-token"}
    }


def test_service_processes_are_endpoints_each() -> None:
    manifests = render(VALUE_SETS["production-ha"])
    env = env_of(
        pod_spec(find(manifests, "Deployment", "gw-chaosgw-controlplane"))["containers"][0]
    )
    host = "gw-chaosgw-extauthz.chaos.svc"
    assert env["CHAOSGW_EXTAUTHZ_ENDPOINTS"] == f"{host}:18300,{host}:18301"
    ports = find(manifests, "Service", "gw-chaosgw-extauthz")["spec"]["ports"]
    assert [port["port"] for port in ports] == [18300, 18400, 18301, 18401]


def test_development_values_run_without_secrets_or_tls() -> None:
    manifests = render(VALUE_SETS["minimal-dev"])
    kinds = {m["kind"] for m in manifests}
    assert "Job" not in kinds  # development migrates on start, certificates: none
    control = pod_spec(find(manifests, "Deployment", "gw-chaosgw-controlplane"))["containers"][0]
    env = env_of(control)
    assert env["CHAOSGW_XDS_PLAINTEXT_REASON"].startswith("single-node development")
    assert env["DATABASE_URL"] == {
        "secretKeyRef": {"name": "gw-chaosgw-dev-urls", "key": "database-url"}
    }


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("envoy.replica=3", "at '/envoy': additional properties 'replica' not allowed"),
        ("controlPlane.replicas=two", "at '/controlPlane/replicas': got string, want integer"),
        ("envoy.kind=StatefulSet", "at '/envoy/kind'"),
        ("tls.mode=off", "at '/tls/mode'"),
        ("envoy.service.ports[0].port=70000", "at '/envoy/service/ports/0/port'"),
    ],
)
def test_schema_refuses_bad_values(setting: str, message: str) -> None:
    error = refusal(None, setting)
    assert "don't meet the specifications of the schema" in error
    assert message in error


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (["database.existingSecret="], "production mode needs database.existingSecret"),
        (["redis.existingSecret="], "production mode needs redis.existingSecret"),
        (["controlPlane.replicas=1"], "production mode needs controlPlane.replicas >= 2"),
        (["tls.mode=none", "tls.plaintextReason=lab"], "tls.mode none (plaintext xDS) is refused"),
        (
            ["envoy.drainTimeSeconds=60", "envoy.terminationGracePeriodSeconds=60"],
            "envoy.terminationGracePeriodSeconds must exceed envoy.drainTimeSeconds",
        ),
    ],
)
def test_unsafe_production_values_fail_naming_the_value(settings: list[str], message: str) -> None:
    assert message in refusal(None, *settings)


def test_plaintext_needs_a_reason_even_in_development() -> None:
    error = refusal(VALUE_SETS["minimal-dev"], "tls.plaintextReason=")
    assert "tls.mode none needs tls.plaintextReason" in error


def test_readme_values_table_is_the_schemas() -> None:
    readme = (CHART.parent / "README.md").read_text()
    assert values_table.section_of(readme) == values_table.table(), (
        "helm/README.md's values table is out of date: paste `python -m charttools.values_table`"
    )


def _generated_data(kubeconfig: Path) -> dict[str, str]:
    result = helm(
        *template_args(None),
        "--dry-run=server",
        "--disable-openapi-validation",
        "--kubeconfig",
        str(kubeconfig),
    )
    assert result.returncode == 0, result.stderr
    docs = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    data: dict[str, str] = find(docs, "Secret", "gw-chaosgw-generated")["data"]
    return data


def test_upgrade_reads_generated_secrets_back(tmp_path: Path) -> None:
    kept = {
        "admin-token": base64.b64encode(b"token-of-the-first-install-0123456789").decode(),
        "api-key-secret": base64.b64encode(b"api-key-secret-of-the-first-install-01").decode(),
    }
    stored = {
        "gw-chaosgw-generated": {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": "gw-chaosgw-generated",
                "namespace": NAMESPACE,
                # What helm wrote on the first install: the upgrade adopts its own object.
                "labels": {"app.kubernetes.io/managed-by": "Helm"},
                "annotations": {
                    "meta.helm.sh/release-name": RELEASE,
                    "meta.helm.sh/release-namespace": NAMESPACE,
                },
            },
            "data": kept,
        }
    }
    with fake_cluster(stored, tmp_path, NAMESPACE) as kubeconfig:
        assert _generated_data(kubeconfig) == kept
    # The same render against a cluster without it draws new values: the lookup decided.
    with fake_cluster({}, tmp_path, NAMESPACE) as kubeconfig:
        fresh = _generated_data(kubeconfig)
    assert set(fresh) == set(kept)
    assert not set(fresh.values()) & set(kept.values())
