"""Server-side sessions: a presented session id is checked in Redis at every request (one
script call, which also slides its idle expiry), never cached here, so a logout or a ban holds
from the next request on. Redis unreachable: refused (503), never admitted."""

from authcontract import denials
from extauthz.identity import SESSION, Identity, Presented
from extauthz.policies import RoutePolicy
from sessionstore.store import EXPIRED, SessionCheck, StoreUnavailable


class Sessions:
    def __init__(self, check: SessionCheck) -> None:
        self._check = check

    async def verify(self, presented: Presented, policy: RoutePolicy) -> Identity | str:
        try:
            holder = await self._check.check(presented.value)
        except StoreUnavailable:
            return denials.SESSION_STORE_UNAVAILABLE
        if isinstance(holder, str):
            return denials.EXPIRED_SESSION if holder == EXPIRED else denials.UNKNOWN_SESSION
        return Identity(
            kind=SESSION,
            player_id=holder.player_id,
            roles=frozenset(holder.roles),
            tier=holder.tier,
            session_id=holder.fingerprint,
        )
