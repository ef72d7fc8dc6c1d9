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
    for cached in (member_store, resolver, staff_directory, commission_service):
        cached.cache_clear()
    reset_clients()


@cache
def staff_directory():
    from omo2c.storage.staff import StaffDirectory

    return StaffDirectory(get_settings())


class _CreditLookups:
    """Staff, codes and bindings as the attribution rules ask for them."""

    def staff(self, staff_id):
        return staff_directory().staff(staff_id)

    def staff_many(self, staff_ids):
        return staff_directory().staff_many(staff_ids)

    def code(self, code):
        return staff_directory().code(code)

    def binding(self, member_id):
        member = member_store().get_member(member_id)
        return member.binding if member else None


@cache
def commission_service():
    from omo2c.attribution import AttributionPolicy
    from omo2c.commissions import CommissionService
    from omo2c.ledger import Rates
    from omo2c.storage.ledger import LedgerStore

    settings = get_settings()
    return CommissionService(LedgerStore(settings), _CreditLookups(), Rates.from_config(settings.commission_rates),
                             AttributionPolicy(settings.referral_valid_days, settings.binding_expiry_days),
                             settings.holding_days)
