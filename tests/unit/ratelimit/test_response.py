"""The RateLimitResponse Envoy gets: a status per descriptor, and the headers the client sees
from the most restrictive enforced descriptor (Retry-After only on a refusal)."""

from envoy.service.ratelimit.v3 import rls_pb2

from ratelimit import response
from ratelimit.engine import IGNORED, Decision, Outcome
from ratelimit.policies import Policy, compile_policies
from tests.unit.ratelimit.factories import policy

Response = rls_pb2.RateLimitResponse
Unit = Response.RateLimit


def compiled(name: str, window: int = 60, shadow: bool = False) -> Policy:
    found = compile_policies([policy(name, window=window, shadow=shadow)]).get(name)
    assert found is not None
    return found


def outcome(
    name: str,
    ceiling: int,
    remaining: int | None,
    *,
    limited: bool = False,
    reset: float = 0.0,
    retry: float = 0.0,
    window: int = 60,
    shadow: bool = False,
) -> Outcome:
    return Outcome(compiled(name, window, shadow), ceiling, limited, remaining, reset, retry)


def built(limited: bool, *outcomes: Outcome) -> tuple[rls_pb2.RateLimitResponse, dict[str, str]]:
    answer = Response.FromString(response.build(Decision(limited, outcomes)))
    return answer, {h.key: h.value for h in answer.response_headers_to_add}


def test_admitted_shows_the_enforced_descriptor_with_the_fewest_left() -> None:
    answer, headers = built(
        False,
        outcome("per-player", 10, 7, reset=30.2),
        outcome("per-route", 100, 3, reset=59.01),
        outcome("watch", 5, 0, limited=True, shadow=True),  # shadow: never shown
        IGNORED,
    )

    assert answer.overall_code == Response.OK
    assert headers == {
        "RateLimit-Limit": "100",
        "RateLimit-Remaining": "3",
        "RateLimit-Reset": "60",  # rounded up: a client that waits this long is not early
    }
    codes = [s.code for s in answer.statuses]
    assert codes == [Response.OK, Response.OK, Response.OVER_LIMIT, Response.OK]
    first = answer.statuses[0]
    assert (first.current_limit.name, first.current_limit.requests_per_unit) == ("per-player", 10)
    assert first.current_limit.unit == Unit.MINUTE
    assert first.limit_remaining == 7
    assert first.duration_until_reset.ToMilliseconds() == 30_200
    assert not answer.statuses[3].HasField("current_limit")  # ignored: no policy to name


def test_refused_shows_the_descriptor_refusing_longest_with_retry_after() -> None:
    answer, headers = built(
        True,
        outcome("per-player", 10, 0, limited=True, reset=61.0, retry=2.5),
        outcome("per-route", 100, 0, limited=True, reset=62.0, retry=40.1),
        outcome("per-ip", 50, 20, reset=10.0),  # fits: not the reason for the refusal
    )

    assert answer.overall_code == Response.OVER_LIMIT
    assert headers == {
        "RateLimit-Limit": "100",
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": "41",
        "Retry-After": "41",
    }


def test_a_wait_shorter_than_a_second_is_announced_as_one() -> None:
    _, headers = built(True, outcome("per-second", 5, 0, limited=True, retry=0.05, window=1))
    assert headers["Retry-After"] == "1"
    assert headers["RateLimit-Reset"] == "1"


def test_nothing_known_means_no_headers() -> None:
    # Redis failed and the policy allowed blind; a shadow refusal; no descriptor counted.
    answer, headers = built(
        False, outcome("open", 10, None), outcome("watch", 5, 0, limited=True, shadow=True)
    )
    assert answer.overall_code == Response.OK
    assert headers == {}
    assert (
        response.build(Decision(False, [IGNORED]))
        == Response(
            overall_code=Response.OK, statuses=[Response.DescriptorStatus(code=Response.OK)]
        ).SerializeToString()
    )


def test_windows_of_a_whole_unit_name_it_others_stay_unknown() -> None:
    windows = {1: Unit.SECOND, 60: Unit.MINUTE, 3600: Unit.HOUR, 86_400: Unit.DAY, 90: Unit.UNKNOWN}
    for window, unit in windows.items():
        answer, _ = built(False, outcome("w", 5, 5, window=window))
        assert answer.statuses[0].current_limit.unit == unit
