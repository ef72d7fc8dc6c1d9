"""Composition: which store, client and policy each service gets — and nothing else.

A function builds :func:`production` once per process, lazily (storage modules and line-bot-sdk
load on first use, keeping them off the import of handlers that do not need them). Tests build
their own :class:`Services` with fakes passed in and hand it to a handler's ``services`` argument.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache, cached_property
from typing import TYPE_CHECKING

from omo2c.core.aws import reset_clients
from omo2c.core.secrets import Secrets
from omo2c.core.settings import Settings

if TYPE_CHECKING:
    from omo2c.access.id_token import IdTokenVerifier
    from omo2c.access.service import ApiKeysAdmin, Authenticator
    from omo2c.attribution.service import CommissionService
    from omo2c.binding.model import BindingPolicy
    from omo2c.campaigns.service import CampaignService
    from omo2c.cards.service import MemberCards
    from omo2c.channels.email import EmailSender
    from omo2c.channels.line import LineMessenger
    from omo2c.channels.sms import SmsSender
    from omo2c.conversations.service import Conversations
    from omo2c.core.bus import EventPublisher
    from omo2c.coupons.service import Coupons
    from omo2c.dashboards.service import Dashboards
    from omo2c.events import BusEvent
    from omo2c.line.conversation import LineConversation
    from omo2c.links.service import ShareLinks
    from omo2c.loyalty.service import Loyalty
    from omo2c.mailing.service import EmailPreferences
    from omo2c.mailing.tokens import UnsubscribeTokens
    from omo2c.members.admin import MembersAdmin
    from omo2c.members.resolution import Policy, Resolver
    from omo2c.members.storage import DynamoMemberStore
    from omo2c.sources.queue import IngestQueue
    from omo2c.staff.admin import StaffAdmin
    from omo2c.staff.storage import StaffDirectory, StaffKpis
    from omo2c.tags.service import MemberTags
    from omo2c.workspace.service import StaffWorkspace


class Services:
    def __init__(self, settings: Settings, *, messenger: LineMessenger | None = None, sms: SmsSender | None = None,
                 publisher: EventPublisher | None = None, clock: Callable[[], datetime] | None = None,
                 email: EmailSender | None = None) -> None:
        self.settings = settings
        self._messenger, self._sms, self._publisher, self._email = messenger, sms, publisher, email
        self.clock = clock or (lambda: datetime.now(tz=UTC))

    # ------------------------------------------------------------------ plumbing
    @cached_property
    def secrets(self) -> Secrets:
        return Secrets(self.settings.secrets_path)

    @cached_property
    def publisher(self) -> EventPublisher:
        if self._publisher is not None:
            return self._publisher
        from omo2c.core.bus import EventPublisher

        return EventPublisher(self.settings.event_bus)

    def publish(self, events: list[BusEvent]) -> None:
        if events:
            self.publisher.publish(events)

    @cached_property
    def ingest_queue(self) -> IngestQueue:
        from omo2c.core.queues import BatchSender
        from omo2c.sources.queue import IngestQueue

        return IngestQueue(BatchSender(self.settings.ingest_queue_url))

    @property
    def messenger(self) -> LineMessenger:
        if self._messenger is None:
            from omo2c.channels.line import MessagingApiMessenger

            self._messenger = MessagingApiMessenger(self.settings.line_api_endpoint,
                                                    lambda: self.secrets.get("line-channel-access-token"))
        return self._messenger

    @property
    def sms(self) -> SmsSender:
        if self._sms is None:
            from omo2c.channels.sms import SnsSmsSender

            self._sms = SnsSmsSender()
        return self._sms

    @property
    def email(self) -> EmailSender:
        if self._email is None:
            from omo2c.channels.email import SesEmailSender

            self._email = SesEmailSender(self.settings.email_from, self.settings.email_configuration_set)
        return self._email

    # ------------------------------------------------------------------ stores
    @cached_property
    def members(self) -> DynamoMemberStore:
        from omo2c.members.storage import DynamoMemberStore

        return DynamoMemberStore(self.settings)

    @cached_property
    def staff_directory(self) -> StaffDirectory:
        from omo2c.staff.storage import StaffDirectory

        return StaffDirectory(self.settings)

    @cached_property
    def staff_kpis(self) -> StaffKpis:
        from omo2c.staff.storage import StaffKpis

        return StaffKpis(self.settings)

    @cached_property
    def share_links(self) -> ShareLinks:
        from omo2c.links.service import ShareLinks
        from omo2c.links.storage import ShareLinkStore

        return ShareLinks(ShareLinkStore(self.settings), self.clock)

    @cached_property
    def conversations(self) -> Conversations:
        from omo2c.conversations.service import Conversations
        from omo2c.conversations.storage import ConversationStore

        settings = self.settings
        return Conversations(ConversationStore(settings), settings.conversation_retention_days,
                             settings.staff_notify_minutes, self.clock)

    # ------------------------------------------------------------------ membership program
    @cached_property
    def loyalty(self) -> Loyalty:
        from omo2c.loyalty.model import LoyaltyPolicy
        from omo2c.loyalty.service import Loyalty
        from omo2c.loyalty.storage import LoyaltyStore

        return Loyalty(LoyaltyStore(self.settings), LoyaltyPolicy.from_settings(self.settings), self.publish,
                       self.clock)

    @cached_property
    def coupons(self) -> Coupons:
        from omo2c.coupons.service import Coupons
        from omo2c.coupons.storage import CouponStore

        return Coupons(CouponStore(self.settings), self.publish, self.clock)

    @cached_property
    def member_cards(self) -> MemberCards:
        from omo2c.cards.service import MemberCards
        from omo2c.cards.storage import MemberCodeStore

        return MemberCards(MemberCodeStore(self.settings), lambda: self.secrets.get("member-code-key"),
                           self.settings.member_code_ttl_seconds, self.clock, members=self.members,
                           summary=lambda member_id: self.loyalty.summary(member_id))

    @cached_property
    def member_tags(self) -> MemberTags:
        from omo2c.tags.service import MemberTags
        from omo2c.tags.storage import TagStore

        return MemberTags(TagStore(self.settings), self.members, self.clock, self.binding_policy)

    # ------------------------------------------------------------------ e-mail and dashboards
    @cached_property
    def unsubscribe_tokens(self) -> UnsubscribeTokens:
        from omo2c.mailing.tokens import UnsubscribeTokens

        return UnsubscribeTokens(lambda: self.secrets.get("unsubscribe-key"), self.settings.unsubscribe_token_days,
                                 self.clock)

    @cached_property
    def email_preferences(self) -> EmailPreferences:
        from omo2c.campaigns.storage import CampaignStore
        from omo2c.mailing.service import EmailPreferences

        return EmailPreferences(self.members, CampaignStore(self.settings), self.unsubscribe_tokens, self.clock)

    @cached_property
    def dashboards(self) -> Dashboards:
        from omo2c.dashboards.service import Dashboards
        from omo2c.dashboards.storage import DashboardStore

        return Dashboards(DashboardStore(self.settings), self.clock)

    # ------------------------------------------------------------------ access
    @cached_property
    def authenticator(self) -> Authenticator:
        from omo2c.access.service import Authenticator
        from omo2c.access.storage import ApiKeyStore

        return Authenticator(lambda: self.secrets.get("admin-token"), ApiKeyStore(self.settings),
                             lambda: self.id_tokens, lambda user_id: self.staff_directory.staff_by_line(user_id))

    @cached_property
    def id_tokens(self) -> IdTokenVerifier:
        from omo2c.access.id_token import IdTokenVerifier

        settings = self.settings
        return IdTokenVerifier(settings.line_login_jwks_url, settings.line_login_channel_id, settings.line_login_issuer)

    @cached_property
    def api_keys(self) -> ApiKeysAdmin:
        from omo2c.access.service import ApiKeysAdmin
        from omo2c.access.storage import ApiKeyStore

        return ApiKeysAdmin(ApiKeyStore(self.settings), self.staff_directory, self.clock)

    # ------------------------------------------------------------------ policies
    def resolution_policy(self) -> Policy:
        """Read at every event: a store's phone joins the block list within a minute of being registered."""
        from omo2c.identity.identifiers import BlockList
        from omo2c.members.resolution import Policy

        blocklist = BlockList(self.settings.blocked_identifiers, self.settings.default_region)
        return Policy(blocklist=blocklist.with_phones(self.staff_directory.store_phones()),
                      region=self.settings.default_region,
                      identifier_member_limit=self.settings.identifier_member_limit,
                      tag_rules=self.settings.tag_rules)

    @cached_property
    def binding_policy(self) -> BindingPolicy:
        from omo2c.binding.model import BindingPolicy

        return BindingPolicy(self.settings.binding_cooldown_days, self.settings.binding_expiry_days,
                             self.settings.binding_policy_version)

    # ------------------------------------------------------------------ services
    @cached_property
    def resolver(self) -> Resolver:
        from omo2c.members.resolution import Resolver

        return Resolver(self.members, self.resolution_policy)

    @cached_property
    def members_admin(self) -> MembersAdmin:
        from omo2c.members.admin import MembersAdmin

        return MembersAdmin(self.members, self.publish, self.binding_policy, self.settings.napl_window_days,
                            self.settings.default_region, self.clock,
                            loyalty=lambda member_id: self.loyalty.summary(member_id))

    @cached_property
    def commission_service(self) -> CommissionService:
        from omo2c.attribution.ledger import Rates
        from omo2c.attribution.lookups import CreditLookups
        from omo2c.attribution.rules import AttributionPolicy
        from omo2c.attribution.service import CommissionService
        from omo2c.attribution.storage import LedgerStore

        settings = self.settings
        return CommissionService(LedgerStore(settings),
                                 CreditLookups(self.staff_directory, self.members, links=self.share_links),
                                 Rates.from_config(settings.commission_rates),
                                 AttributionPolicy(settings.referral_valid_days, self.binding_policy),
                                 settings.holding_days, self.clock, interactions=self.members,
                                 publish=self.publish)

    @cached_property
    def line_conversation(self) -> LineConversation:
        from omo2c.identity.storage import PhoneProofs
        from omo2c.identity.verification import OtpPolicy
        from omo2c.line.conversation import LineConversation
        from omo2c.line.storage import LineReads

        settings = self.settings
        return LineConversation(
            resolver=self.resolver, members=self.members, reads=LineReads(self.members),
            proofs=PhoneProofs(settings), directory=self.staff_directory, messenger=self.messenger, sms=self.sms,
            publish=self.publish, brand=settings.brand_name, blocklist=self.resolution_policy().blocklist,
            opt_out_keywords=settings.opt_out_keywords, opt_in_keywords=settings.opt_in_keywords,
            otp_key=self.secrets.get("otp-key"),
            binding_policy=self.binding_policy,
            otp_policy=OtpPolicy(regions=settings.otp_regions, hourly_budget=settings.otp_hourly_budget),
            conversations=self.conversations, console_link=self.console_link, clock=self.clock,
            cards=self.member_cards, card_keywords=settings.member_card_keywords)

    def console_link(self, member_id: str, base: str) -> str:
        """Where a staff member opens a customer: the LIFF app inside LINE when there is one, else the page."""
        if self.settings.liff_id:
            return f"https://liff.line.me/{self.settings.liff_id}#/customers/{member_id}"
        return f"{self.settings.public_base_url.rstrip('/') or base}/console#/customers/{member_id}"

    @cached_property
    def staff_admin(self) -> StaffAdmin:
        from omo2c.staff.admin import StaffAdmin

        return StaffAdmin(self.staff_directory, self.members, self.settings.line_basic_id, self.publish,
                          self.binding_policy, self.clock, self.settings.link_code_hours)

    @cached_property
    def workspace(self) -> StaffWorkspace:
        from omo2c.orders.storage import member_orders
        from omo2c.workspace.service import StaffWorkspace

        settings = self.settings
        return StaffWorkspace(self.staff_directory, self.members, member_orders, self.conversations, self.share_links,
                              self.commission_service, self.staff_kpis, self.staff_admin, lambda: self.messenger,
                              self.binding_policy, settings.napl_window_days, settings.brand_name, self.clock,
                              coupons=self.coupons)

    @cached_property
    def campaign_service(self) -> CampaignService:
        from omo2c.campaigns.queue import SendQueue
        from omo2c.campaigns.schedules import CampaignSchedules
        from omo2c.campaigns.service import CampaignService, Reach, Rules
        from omo2c.campaigns.storage import CampaignStore
        from omo2c.core.queues import BatchSender

        settings = self.settings
        rules = Rules([tuple(w) for w in settings.quiet_hours], settings.frequency_cap_max, settings.frequency_cap_days,
                      settings.brand_name, settings.sms_price_per_segment, settings.welcome_coupon_template,
                      settings.napl_window_days, self.binding_policy,
                      tiers={str(t["id"]): t for t in settings.tiers if t.get("id")}, email_from=settings.email_from,
                      unsubscribe_mailto=settings.unsubscribe_mailto, public_base=settings.public_base_url,
                      blocked_hours=settings.blocked_window_hours)
        reach = Reach(email=lambda: self.email, unsubscribe_token=lambda *claim: self.unsubscribe_tokens.issue(*claim),
                      links=self.share_links, publish=self.publish)
        return CampaignService(CampaignStore(settings), self.members, self.staff_directory,
                               SendQueue(BatchSender(settings.send_queue_url)), CampaignSchedules(settings),
                               lambda: self.messenger, lambda: self.sms, rules, self.clock, coupons=self.coupons,
                               reach=reach)


@cache
def production() -> Services:
    """The process's services, from the environment the template sets."""
    return Services(Settings.from_env())


def reset() -> None:
    """Forget the process's services and clients (tests and the local run change the environment)."""
    production.cache_clear()
    reset_clients()
