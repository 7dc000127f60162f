"""Tools for the Helm chart's tests: the helm and kubectl binaries the tests run."""
