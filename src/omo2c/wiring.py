"""Production wiring of the domain services, built lazily once per process."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from omo2c.core.settings import get_settings

if TYPE_CHECKING:
    from omo2c.members.resolution import Policy, Resolver
    from omo2c.members.storage import DynamoMemberStore


@cache
def member_store() -> DynamoMemberStore:
    from omo2c.members.storage import DynamoMemberStore

    return DynamoMemberStore(get_settings())


def resolution_policy() -> Policy:
    """The block list includes the stores' own phones, read from the store records."""
    from omo2c.identity.identifiers import BlockList
    from omo2c.members.resolution import Policy

    settings = get_settings()
    blocklist = BlockList(settings.blocked_identifiers, settings.default_region)
    return Policy(blocklist=blocklist.with_phones(staff_directory().store_phones()),
                  region=settings.default_region,
                  identifier_member_limit=settings.identifier_member_limit)


@cache
def resolver() -> Resolver:
    from omo2c.members.resolution import Resolver

    return Resolver(member_store(), resolution_policy)


def reset() -> None:
    """Forget cached settings, clients and services (tests change the environment)."""
    from omo2c.core.aws import reset_clients

    get_settings.cache_clear()
    for cached in (member_store, resolver, staff_directory, commission_service, member_contacts,
                   line_conversation, staff_admin, campaign_service):
        if hasattr(cached, "cache_clear"):
            cached.cache_clear()
    reset_clients()


@cache
def staff_directory():
    from omo2c.staff.storage import StaffDirectory

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
    from omo2c.attribution.ledger import Rates
    from omo2c.attribution.rules import AttributionPolicy
    from omo2c.attribution.service import CommissionService
    from omo2c.attribution.storage import LedgerStore

    settings = get_settings()
    return CommissionService(LedgerStore(settings), _CreditLookups(), Rates.from_config(settings.commission_rates),
                             AttributionPolicy(settings.referral_valid_days, settings.binding_expiry_days),
                             settings.holding_days)


@cache
def member_contacts():
    from omo2c.binding.storage import MemberContacts

    return MemberContacts(get_settings(), member_store())


def binding_policy():
    from omo2c.binding.model import BindingPolicy

    settings = get_settings()
    return BindingPolicy(settings.binding_cooldown_days, settings.binding_expiry_days, settings.binding_policy_version)


def publish(events: list, source: str) -> None:
    from omo2c.core.bus import publisher

    publisher(get_settings(), source).publish(events)


@cache
def line_conversation():
    from omo2c.channels.line import messenger
    from omo2c.channels.sms import SnsSmsSender
    from omo2c.line.conversation import LineConversation

    settings = get_settings()
    policy = resolution_policy()
    return LineConversation(
        resolver=resolver(), finder=member_store(), contacts=member_contacts(), directory=staff_directory(),
        messenger=messenger(), sms=SnsSmsSender(), publish=publish, brand=settings.brand_name,
        blocklist=policy.blocklist, opt_out_keywords=settings.opt_out_keywords,
        opt_in_keywords=settings.opt_in_keywords, binding_policy=binding_policy())


@cache
def staff_admin():
    from omo2c.staff.admin import StaffAdmin

    return StaffAdmin(staff_directory(), member_contacts(), get_settings().line_basic_id, publish, binding_policy())


@cache
def campaign_service():
    from omo2c.campaigns.schedules import CampaignSchedules, MemberSource, SendQueue, StaffNames
    from omo2c.campaigns.service import CampaignService, Rules
    from omo2c.campaigns.storage import CampaignStore
    from omo2c.channels.line import messenger
    from omo2c.channels.sms import SnsSmsSender

    settings = get_settings()
    rules = Rules([tuple(w) for w in settings.quiet_hours], settings.frequency_cap_max, settings.frequency_cap_days,
                  settings.brand_name, settings.sms_price_per_segment, settings.welcome_coupon,
                  settings.napl_window_days)
    return CampaignService(CampaignStore(settings), MemberSource(), StaffNames(), SendQueue(settings.send_queue_url),
                           CampaignSchedules(settings), messenger, SnsSmsSender, rules)
