"""Pure compilation of the declared gateway state into Envoy resources.

`translate` has no clock, no randomness and no I/O: the same state always gives the same
resources, which is what lets the xDS layer version them by content hash.
"""

from controlplane.translator.compile import GroupResources, Serialized, Translator, translate

__all__ = ["GroupResources", "Serialized", "Translator", "translate"]
