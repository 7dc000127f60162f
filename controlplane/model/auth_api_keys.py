"""API keys for services and partners: high-entropy random strings, shown once at creation and
stored only as a keyed hash (HMAC-SHA256 with a server secret). A random key of 256 bits needs
no slow password hash: nobody can guess it, and the secret keeps a stolen table useless.

The hash is the contract between the control plane (which stores it) and the auth service
(which hashes what a caller presents and looks it up), so both compute it here.
"""

import hashlib
import hmac
import secrets
from collections.abc import Callable
from typing import Self

from pydantic import AwareDatetime, Field, model_validator

from controlplane.model.common import Name, Spec

KEY_PREFIX = "cgw_"
MIN_SECRET_LENGTH = 32


def new_key() -> str:
    """A fresh key: the prefix (which tells a leaked key for what it is) and 256 random bits."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def key_hasher(secret: bytes) -> Callable[[str], str]:
    """The keyed hash of keys under `secret` (lowercase hex): HMAC-SHA256, its key schedule
    done once rather than for every key hashed."""
    keyed = hmac.new(secret, digestmod=hashlib.sha256)

    def key_hash(key: str) -> str:
        mac = keyed.copy()
        mac.update(key.encode())
        return mac.hexdigest()

    return key_hash


class ApiKeySpec(Spec):
    """What an admin declares about a key; the key itself is made by the gateway."""

    name: Name = Field(description="The key's id, sent upstream as x-chaosgw-api-key-id.")
    owner: str = Field(min_length=1, max_length=128, description="Who the key was issued to.")
    roles: list[Name] = Field(default_factory=list, max_length=64)
    tier: Name | None = Field(default=None, description="Rate-limit tier of the key's calls.")
    expires_at: AwareDatetime | None = Field(
        default=None, description="Refused from this instant on; none: valid until revoked."
    )

    @model_validator(mode="after")
    def _distinct(self) -> Self:
        if len(set(self.roles)) != len(self.roles):
            raise ValueError("roles lists a role twice")
        return self


class StoredApiKey(ApiKeySpec):
    """A key as stored and published: its spec and the keyed hash of the key."""

    key_hash: str = Field(pattern=r"^[0-9a-f]{64}$")

    def spec(self) -> ApiKeySpec:
        return ApiKeySpec.model_validate(self.model_dump(exclude={"key_hash"}))
