"""The scenarios, one module each. A new one is a module here and a line in `scenarios()`."""

from tests.bench.core import Scenario
from tests.bench.scenarios.extauthz import API_KEY, JWT, ExtAuthz
from tests.bench.scenarios.jwt_rbac import JwtRbac
from tests.bench.scenarios.memory import Memory
from tests.bench.scenarios.propagation import Propagation
from tests.bench.scenarios.ratelimit import RateLimit
from tests.bench.scenarios.route_change import RouteChange
from tests.bench.scenarios.routed import Routed
from tests.bench.scenarios.translate import Translate


def scenarios(smoke: bool) -> list[Scenario]:
    """Every scenario, in the order they run; smoke mode keeps the small sizes only."""
    if smoke:
        return [
            Routed(smoke=True),
            JwtRbac(smoke=True),
            RateLimit(smoke=True),
            ExtAuthz(smoke=True, credentials=API_KEY),
            ExtAuthz(smoke=True, credentials=JWT),
            Translate(1_000, 200, repeats=2),
            RouteChange(1_000, 200, repeats=3),
            Propagation(100, writes=3),
            Memory(1_000, 200),
        ]
    return [
        Routed(smoke=False),
        JwtRbac(smoke=False),
        RateLimit(smoke=False),
        ExtAuthz(smoke=False, credentials=API_KEY),
        ExtAuthz(smoke=False, credentials=JWT),
        Translate(1_000, 200, repeats=5),
        Translate(10_000, 2_000, repeats=5),
        RouteChange(10_000, 2_000, repeats=5),
        Propagation(100, writes=10),
        Propagation(1_000, writes=10),
        Memory(10_000, 2_000),
    ]
