"""A fake Kubernetes API server, just enough for `helm template --dry-run=server`: discovery of
the kinds the chart renders, reads of stored Secrets (404 for the others), empty lists (no
release history). It lets a test see what the chart's `lookup` reads back on an upgrade."""

import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

KINDS = {
    "v1": ["Secret", "Service", "ServiceAccount"],
    "apps/v1": ["Deployment", "DaemonSet"],
    "batch/v1": ["Job"],
    "policy/v1": ["PodDisruptionBudget"],
    "autoscaling/v2": ["HorizontalPodAutoscaler"],
    "rbac.authorization.k8s.io/v1": ["Role", "RoleBinding"],
    "networking.k8s.io/v1": ["NetworkPolicy"],
}
NOT_FOUND = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound"}


def _resources(group_version: str) -> dict[str, Any]:
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": [
            {
                "name": kind.lower() + "s",
                "singularName": kind.lower(),
                "namespaced": True,
                "kind": kind,
                "verbs": ["get", "list", "create", "update", "patch", "delete"],
            }
            for kind in KINDS.get(group_version, [])
        ],
    }


def _groups() -> dict[str, Any]:
    groups = []
    for group_version in KINDS:
        if "/" not in group_version:
            continue
        name, version = group_version.split("/")
        entry = {"groupVersion": group_version, "version": version}
        groups.append({"name": name, "versions": [entry], "preferredVersion": entry})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def _handler(secrets: Mapping[str, Mapping[str, Any]]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return  # quiet: the test asserts on what helm renders

        def do_GET(self) -> None:
            path = self.path.split("?")[0].strip("/")
            parts = path.split("/")
            if path == "version":
                self._send(200, {"major": "1", "minor": "35", "gitVersion": "v1.35.0"})
            elif path == "api":
                self._send(200, {"kind": "APIVersions", "versions": ["v1"]})
            elif path == "apis":
                self._send(200, _groups())
            elif path == "api/v1":
                self._send(200, _resources("v1"))
            elif parts[0] == "apis" and len(parts) == 3:
                self._send(200, _resources(f"{parts[1]}/{parts[2]}"))
            elif parts[:2] == ["api", "v1"] and len(parts) == 6 and parts[4] == "secrets":
                found = secrets.get(parts[5])
                self._send(200, dict(found)) if found else self._send(404, NOT_FOUND)
            elif len(parts) >= 3 and parts[-3] == "namespaces":  # a list: .../namespaces/NS/KIND
                self._send(200, {"kind": "List", "apiVersion": "v1", "metadata": {}, "items": []})
            else:
                self._send(404, NOT_FOUND)

        def _send(self, status: int, body: Mapping[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


@contextmanager
def fake_cluster(
    secrets: Mapping[str, Mapping[str, Any]], directory: Path, namespace: str
) -> Iterator[Path]:
    """Serves the fake API on loopback; yields a kubeconfig naming it."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(secrets))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    kubeconfig = directory / "kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {
                        "name": "fake",
                        "cluster": {"server": f"http://127.0.0.1:{server.server_port}"},
                    }
                ],
                "users": [{"name": "fake", "user": {"token": "fake"}}],
                "contexts": [
                    {
                        "name": "fake",
                        "context": {"cluster": "fake", "user": "fake", "namespace": namespace},
                    }
                ],
                "current-context": "fake",
            }
        )
    )
    try:
        yield kubeconfig
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
