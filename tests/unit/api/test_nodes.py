"""/api/v1/nodes: what every connected Envoy was sent, ACKed and NACKed."""

from fastapi.testclient import TestClient

from controlplane.xds.nodes import NodeRegistry

LISTENERS = "type.googleapis.com/envoy.config.listener.v3.Listener"


def test_no_nodes_yet(client: TestClient) -> None:
    assert client.get("/api/v1/nodes").json() == {
        "items": [],
        "total": 0,
        "limit": 100,
        "offset": 0,
        "next_offset": None,
    }


def test_nodes_show_sent_acked_and_nacked_versions(client: TestClient, nodes: NodeRegistry) -> None:
    nodes.connected("envoy-1", "edge", "10.1.0.5:4411", "envoy/1.40")
    nodes.sent("envoy-1", LISTENERS, "v2")
    nodes.acked("envoy-1", LISTENERS, "v1")
    nodes.nacked("envoy-1", LISTENERS, "v2", "port 80: address already in use")

    response = client.get("/api/v1/nodes")

    assert response.status_code == 200
    [node] = response.json()["items"]
    assert (node["id"], node["group"], node["connected"]) == ("envoy-1", "edge", True)
    [status] = node["types"]
    assert status["type_url"] == LISTENERS
    assert (status["sent_version"], status["acked_version"], status["nacked_version"]) == (
        "v2",
        "v1",
        "v2",
    )
    assert status["nack_error"] == "port 80: address already in use"


def test_nodes_are_listed_by_id_in_pages(client: TestClient, nodes: NodeRegistry) -> None:
    for node_id in ("envoy-c", "envoy-a", "envoy-e", "envoy-b", "envoy-d"):
        nodes.connected(node_id, "edge", "10.1.0.5:4411", "envoy/1.40")

    pages = [client.get("/api/v1/nodes", params={"limit": 2, "offset": o}) for o in (0, 2, 4)]

    bodies = [page.json() for page in pages]
    assert [[node["id"] for node in body["items"]] for body in bodies] == [
        ["envoy-a", "envoy-b"],
        ["envoy-c", "envoy-d"],
        ["envoy-e"],
    ]
    assert [body["next_offset"] for body in bodies] == [2, 4, None]
    assert {body["total"] for body in bodies} == {5}


def test_a_page_size_out_of_bounds_is_refused(client: TestClient) -> None:
    assert client.get("/api/v1/nodes", params={"limit": 0}).status_code == 422
    assert client.get("/api/v1/nodes", params={"limit": 1001}).status_code == 422
