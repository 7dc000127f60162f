"""Prometheus metrics of the xDS side."""

from prometheus_client import Counter, Gauge, Histogram

XDS_PUSHES = Counter("chaosgw_xds_pushes_total", "xDS responses sent to nodes.", ["type_url"])
XDS_NACKS = Counter("chaosgw_xds_nacks_total", "xDS responses that nodes rejected.", ["type_url"])
XDS_PROPAGATION = Histogram(
    "chaosgw_xds_propagation_seconds",
    "From a snapshot being built to a node ACKing it, per node and type.",
    ["type_url"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
XDS_CONNECTED_NODES = Gauge(
    "chaosgw_xds_connected_nodes", "Nodes with an open ADS stream.", ["group"]
)
TRANSLATION_SECONDS = Histogram(
    "chaosgw_translation_seconds",
    "Loading the gateway state and compiling it into snapshots for every node group.",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
SNAPSHOT_REVISION = Gauge(
    "chaosgw_snapshot_store_revision", "Store revision of the snapshots being served."
)
XDS_REFUSED_STREAMS = Counter(
    "chaosgw_xds_refused_streams_total",
    "ADS streams refused because the client's certificate does not allow the node group.",
    ["reason"],
)
