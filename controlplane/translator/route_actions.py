"""What an Envoy route does: forward (RouteAction), redirect, or answer directly.

A forward's canary and rollout are extra Envoy routes: copies of the base route, narrowed by
the canary's header or cookie or by the rollout's runtime percentage, sending to their own
service. They go just before the base route, so they see its requests first and nothing else.
"""

from typing import Any

from envoy.config.core.v3 import base_pb2
from envoy.config.route.v3 import route_components_pb2 as rc_pb2
from envoy.type.v3 import percent_pb2

from controlplane.model import (
    DirectResponseAction,
    ForwardAction,
    RedirectAction,
    RegexRewrite,
    RouteSpec,
)
from controlplane.translator.route_policy import RoutePolicy, policy_fields
from controlplane.translator.runtime import rollout_key

_REDIRECT_CODES = {
    301: rc_pb2.RedirectAction.MOVED_PERMANENTLY,
    302: rc_pb2.RedirectAction.FOUND,
    303: rc_pb2.RedirectAction.SEE_OTHER,
    307: rc_pb2.RedirectAction.TEMPORARY_REDIRECT,
    308: rc_pb2.RedirectAction.PERMANENT_REDIRECT,
}
_HUNDRED = percent_pb2.FractionalPercent.HUNDRED


def action_fields(route: RouteSpec, policy: RoutePolicy | None) -> dict[str, Any]:
    """The `Route` fields that say what to do with a matched request."""
    action = route.action
    if isinstance(action, ForwardAction):
        assert policy is not None  # every forward has one (see `route_policy`)
        return {"route": _forward_fields(action, policy)}
    if isinstance(action, RedirectAction):
        return {"redirect": _redirect_fields(action)}
    return _direct_response_fields(action)


def variants(route: RouteSpec, base: Any) -> list[Any]:
    """The Envoy routes that go before `base`: the canary's, then the rollout's."""
    action = route.action
    if not isinstance(action, ForwardAction) or (action.canary is None and action.rollout is None):
        return []
    found = []
    if action.canary is not None:
        canary = _copy(base, f"{route.name}/canary", action.canary.service)
        if action.canary.header is not None:
            header = action.canary.header
            canary.match.headers.add(name=header.name.lower(), string_match={"exact": header.value})
        elif action.canary.cookie is not None:
            canary.match.headers.add(
                name="cookie", string_match={"safe_regex": {"regex": action.canary.cookie.regex()}}
            )
        found.append(canary)
    if action.rollout is not None:
        rollout = _copy(base, f"{route.name}/rollout", action.rollout.service)
        # The share lives in the runtime (RTDS), so moving it never touches the route; until
        # the runtime says otherwise, nothing is rolled out.
        rollout.match.runtime_fraction.CopyFrom(
            base_pb2.RuntimeFractionalPercent(
                default_value=percent_pb2.FractionalPercent(numerator=0, denominator=_HUNDRED),
                runtime_key=rollout_key(route.name),
            )
        )
        found.append(rollout)
    return found


def _copy(base: Any, name: str, service: str) -> Any:
    # A copy keeps whatever else the base route carries (timeouts, retries, policies).
    route = rc_pb2.Route()
    route.CopyFrom(base)
    route.name = name
    route.route.cluster = service  # replaces a weighted split
    return route


def _forward_fields(action: ForwardAction, policy: RoutePolicy) -> dict[str, Any]:
    backends = action.backends
    fields = policy_fields(policy)
    if len(backends) == 1:
        fields["cluster"] = backends[0].service
    else:
        fields["weighted_clusters"] = {
            "clusters": [{"name": b.service, "weight": {"value": b.weight}} for b in backends]
        }
    if action.mirror is not None:
        mirror: dict[str, Any] = {"cluster": action.mirror.service}
        if action.mirror.percent < 100:
            mirror["runtime_fraction"] = {
                "default_value": {"numerator": action.mirror.percent, "denominator": _HUNDRED}
            }
        fields["request_mirror_policies"] = [mirror]
    if action.rewrite is not None:
        if action.rewrite.prefix is not None:
            fields["prefix_rewrite"] = action.rewrite.prefix
        elif action.rewrite.regex is not None:
            fields["regex_rewrite"] = _regex_rewrite(action.rewrite.regex)
    if action.host_rewrite is not None:
        if action.host_rewrite.literal is not None:
            fields["host_rewrite_literal"] = action.host_rewrite.literal
        else:
            fields["auto_host_rewrite"] = {"value": True}
    if not action.websocket:
        # The listener accepts upgrades; this route opts out.
        fields["upgrade_configs"] = [{"upgrade_type": "websocket", "enabled": {"value": False}}]
    return fields


def _redirect_fields(action: RedirectAction) -> dict[str, Any]:
    fields: dict[str, Any] = {"response_code": _REDIRECT_CODES[action.response_code]}
    if action.https:
        fields["https_redirect"] = True
    if action.host is not None:
        fields["host_redirect"] = action.host
    if action.port is not None:
        fields["port_redirect"] = action.port
    if action.path is not None:
        fields["path_redirect"] = action.path
    elif action.prefix_rewrite is not None:
        fields["prefix_rewrite"] = action.prefix_rewrite
    elif action.regex_rewrite is not None:
        fields["regex_rewrite"] = _regex_rewrite(action.regex_rewrite)
    if action.strip_query:
        fields["strip_query"] = True
    return fields


def _direct_response_fields(action: DirectResponseAction) -> dict[str, Any]:
    response: dict[str, Any] = {"status": action.status}
    if action.body is None:
        return {"direct_response": response}
    response["body"] = {"inline_string": action.body}
    return {
        "direct_response": response,
        "response_headers_to_add": [
            {
                "header": {"key": "content-type", "value": action.content_type},
                "append_action": base_pb2.HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD,
            }
        ],
    }


def _regex_rewrite(rewrite: RegexRewrite) -> dict[str, Any]:
    return {"pattern": {"regex": rewrite.pattern}, "substitution": rewrite.substitution}
