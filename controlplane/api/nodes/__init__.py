"""Nodes: the Envoys (and other xDS clients) connected to this control plane, read only."""
