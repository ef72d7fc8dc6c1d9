"""Production wiring of the domain services, built lazily once per process."""

from __future__ import annotations

from functools import cache

from omo2c.identity import BlockList
from omo2c.resolution import Policy, Resolver
from omo2c.settings import get_settings
from omo2c.storage.members import DynamoMemberStore


@cache
def member_store() -> DynamoMemberStore:
    return DynamoMemberStore(get_settings())


def resolution_policy() -> Policy:
    settings = get_settings()
    return Policy(blocklist=BlockList(settings.blocked_identifiers, settings.default_region),
                  region=settings.default_region,
                  identifier_member_limit=settings.identifier_member_limit)


@cache
def resolver() -> Resolver:
    return Resolver(member_store(), resolution_policy())


def reset() -> None:
    """Forget cached settings, clients and services (tests change the environment)."""
    from omo2c.aws import reset_clients

    get_settings.cache_clear()
    member_store.cache_clear()
    resolver.cache_clear()
    reset_clients()
