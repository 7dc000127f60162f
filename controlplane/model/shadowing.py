"""Routes that can never match because an earlier route of their listener takes every request
they would. Reported to the admin as warnings; the routes are still saved.

Conservative by design: a route is called shadowed only when the earlier route's conditions
are provably a superset (same or wider hosts, path, methods; a subset of its header, query and
gRPC conditions). Anything we cannot prove, e.g. two different regexes, is never reported.
"""

import re2

from controlplane.model.path_templates import literal_prefix
from controlplane.model.routes import HeaderMatch, PathMatch, RouteMatch, RouteSpec, host_covers


def shadows(earlier: RouteSpec, later: RouteSpec) -> bool:
    """Whether `earlier` is tried before `later` and matches every request `later` would."""
    return (
        earlier.listener == later.listener
        and earlier.sort_key() < later.sort_key()
        and all(any(host_covers(a, b) for a in earlier.hosts) for b in later.hosts)
        and _match_covers(earlier.match, later.match)
    )


def _match_covers(wide: RouteMatch, narrow: RouteMatch) -> bool:
    if wide.methods and not (narrow.methods and set(narrow.methods) <= set(wide.methods)):
        return False
    if wide.grpc is not None and narrow.grpc is None:
        return False
    narrow_headers = {_header_key(header) for header in narrow.headers}
    if any(_header_key(header) not in narrow_headers for header in wide.headers):
        return False
    if any(param not in narrow.query_params for param in wide.query_params):
        return False
    return _path_covers(wide.path, narrow.path)


def _path_covers(wide: PathMatch, narrow: PathMatch) -> bool:
    if wide == narrow:
        return True
    if wide.type == "prefix":
        if narrow.type in ("prefix", "exact"):
            return narrow.value.startswith(wide.value)
        if narrow.type == "template":
            return literal_prefix(narrow.value).startswith(wide.value)
        # A regex matches whole paths: one that starts with '/' and has no alternative only
        # matches paths that start with '/' (not e.g. the `*` of `OPTIONS *`).
        pattern = narrow.value.removeprefix("^")
        return wide.value == "/" and pattern.startswith("/") and "|" not in pattern
    if wide.type == "regex" and narrow.type == "exact":
        return re2.fullmatch(wide.value, narrow.value) is not None
    return False


def _header_key(header: HeaderMatch) -> tuple[str, str, str | None, bool]:
    # Header names are case-insensitive; the rest of the condition must be identical.
    return header.name.lower(), header.type, header.value, header.invert
