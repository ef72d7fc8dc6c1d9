"""One typed settings object, read from the environment once per process.

The template sets these variables for every function; the local run sets the same ones.
Secrets are not settings: they come from :mod:`omo2c.core.secrets`.
"""

from __future__ import annotations

import json
import os
from typing import Any

from pydantic import BaseModel, Field, field_validator

DEFAULT_BLOCKED_IDENTIFIERS = (
    "0900000000",
    "0911111111",
    "0912345678",
    "0987654321",
    "0999999999",
    "null",
    "none",
    "-",
    "n/a",
    "test@test.com",
)


class Settings(BaseModel):
    secrets_path: str = "/omo2c/dev"
    members_table: str = "omo2c-members"
    ledger_table: str = "omo2c-ledger"
    campaigns_table: str = "omo2c-campaigns"
    idempotency_table: str = "omo2c-idempotency"
    event_bus: str = "omo2c-dev"
    ingest_queue_url: str = ""
    send_queue_url: str = ""
    schedule_group: str = ""
    planner_arn: str = ""
    scheduler_role_arn: str = ""
    schedule_dlq_arn: str = ""
    webhook_sources: dict[str, str] = Field(
        default_factory=lambda: {"pos": "generic", "ec": "generic", "shopify": "shopify"}
    )
    line_basic_id: str = "@omo2c"
    line_api_endpoint: str = "https://api.line.me"
    brand_name: str = "Brand"
    default_region: str = "TW"
    time_zone: str = "Asia/Taipei"
    max_body_bytes: int = 256 * 1024
    signature_window_seconds: int = 300
    line_id_trusted_sources: tuple[str, ...] = ()
    blocked_identifiers: tuple[str, ...] = DEFAULT_BLOCKED_IDENTIFIERS
    identifier_member_limit: int = 3
    napl_window_days: int = 90
    commission_rates: dict[str, Any] = Field(default_factory=lambda: {"channels": {"pos": "0.02", "ec": "0.05"}})
    referral_valid_days: int = 7
    holding_days: int = 7
    binding_cooldown_days: int = 30
    binding_expiry_days: int = 180
    binding_policy_version: str = "2026-11"
    opt_out_keywords: tuple[str, ...] = ("取消訂閱", "STOP", "UNSUBSCRIBE")
    opt_in_keywords: tuple[str, ...] = ("訂閱", "START", "SUBSCRIBE")
    otp_regions: tuple[str, ...] = ("TW",)
    otp_hourly_budget: int = 500
    quiet_hours: tuple[tuple[str, str], ...] = (("21:00", "09:00"), ("12:30", "13:30"))
    frequency_cap_max: int = 2
    frequency_cap_days: int = 7
    sms_price_per_segment: str = "0.0645"
    welcome_coupon_template: str = ""  # the coupon template a sign-up's welcome message gives; none: no coupon
    line_login_channel_id: str = "1234567890"
    line_login_jwks_url: str = "https://api.line.me/oauth2/v2.1/certs"
    line_login_issuer: str = "https://access.line.me"
    liff_id: str = ""
    public_base_url: str = ""
    conversation_retention_days: int = 365
    staff_notify_minutes: int = 10
    link_code_hours: int = 24
    tiers: list[dict[str, Any]] = Field(default_factory=lambda: [
        {"id": "regular", "name": "一般會員", "min_spend": "0", "points_rate": "1", "benefits": []},
        {"id": "silver", "name": "銀卡", "min_spend": "10000", "points_rate": "1.5", "benefits": ["生日禮"],
         "welcome_coupon_template": "silver-welcome"},
        {"id": "gold", "name": "金卡", "min_spend": "30000", "points_rate": "2",
         "benefits": ["生日禮", "免運"], "welcome_coupon_template": "gold-welcome"}])
    tier_window: str = "rolling_365"  # or "calendar_year"
    tier_review_downgrades_on_refund: bool = False
    points_per_amount: str = "100"  # points_rate points per this much net spend
    points_holding_days: int = 7
    points_expiry_months: int = 12
    member_code_ttl_seconds: int = 300
    member_card_keywords: tuple[str, ...] = ("會員卡",)
    tag_rules: dict[str, str] = Field(default_factory=dict)  # "category:<item category>" -> tag
    staff_coupon_monthly_cap: int = 20
    email_from: str = ""  # a verified SES identity, e.g. "Brand <news@brand.tw>"; empty: no e-mail is sent
    email_configuration_set: str = ""  # SES configuration set publishing bounces and complaints to EventBridge
    unsubscribe_mailto: str = ""  # the List-Unsubscribe mailto address
    unsubscribe_token_days: int = 400
    blocked_window_hours: int = 48  # an unfollow this soon after a LINE send counts against that send

    @field_validator("webhook_sources", mode="before")
    @classmethod
    def _parse_sources(cls, value: object) -> object:
        """Accept the template's `name:kind,name:kind` form."""
        if isinstance(value, str):
            pairs = [p.strip() for p in value.split(",") if p.strip()]
            parsed = {}
            for pair in pairs:
                name, _, kind = pair.partition(":")
                parsed[name.strip().lower()] = (kind or "generic").strip().lower()
            return parsed
        return value

    @field_validator("commission_rates", "quiet_hours", "tiers", "tag_rules", mode="before")
    @classmethod
    def _parse_rates(cls, value: object) -> object:
        return json.loads(value) if isinstance(value, str) else value

    @field_validator("opt_out_keywords", "opt_in_keywords", "otp_regions", "member_card_keywords", mode="before")
    @classmethod
    def _parse_keywords(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(v.strip() for v in value.split(",") if v.strip())
        return value

    @field_validator("blocked_identifiers", mode="before")
    @classmethod
    def _parse_blocked(cls, value: object) -> object:
        if isinstance(value, str):
            extra = tuple(v.strip() for v in value.split(",") if v.strip())
            return DEFAULT_BLOCKED_IDENTIFIERS + extra
        return value

    @field_validator("line_id_trusted_sources", mode="before")
    @classmethod
    def _parse_source_names(cls, value: object) -> object:
        """Source names as the webhook path has them: `crm, POS` → ("crm", "pos")."""
        if isinstance(value, str):
            value = value.split(",")
        if isinstance(value, (list, tuple)):
            return tuple(str(v).strip().lower() for v in value if str(v).strip())
        return value

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for name in cls.model_fields:
            key = f"OMO_{name.upper()}"
            if key in env:
                values[name] = env[key]
        return cls.model_validate(values)

