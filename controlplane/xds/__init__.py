"""The xDS side: versioned snapshots per node group, the ADS server, and what each node holds."""
