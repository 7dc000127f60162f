"""A state-of-the-world ADS subscriber for the gateway's own Python services.

The rate-limit and auth services get their policies from the control plane over the same ADS
stream Envoy uses (see `controlplane/xds/server.py`): one wildcard subscription to one type URL,
every response carrying the full set.
"""

from adsclient.subscriber import AdsSubscriber, ResourcesRefused

__all__ = ["AdsSubscriber", "ResourcesRefused"]
