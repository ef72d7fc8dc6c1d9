"""A campaign as a marketer writes it: segment + message + channels + schedule, with limits."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    Json,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

PLACEHOLDERS = ("name", "staff_name", "store_name", "coupon")
# The whole template grammar: literal braces, the four placeholders, and any other brace (an error).
# Nothing else is read from the text, so a template can never reach str.format's conversions,
# format specs or attribute and index access.
TEMPLATE_TOKEN = re.compile(r"\{\{|\}\}|\{(" + "|".join(PLACEHOLDERS) + r")\}|[{}]")
_PLACEHOLDER_LIST = ", ".join(f"{{{p}}}" for p in PLACEHOLDERS)
HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
SCHEDULE = re.compile(r"^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\([^)]+\)|at\([0-9T:\-]+\))$")
NaplClass = Literal["new", "active", "passive", "lost", "prospect"]
Channel = Literal["line", "sms", "email"]
TriggerEvent = Literal["member.created", "member.bound", "member.tier_changed", "order.recorded", "birthday"]
Status = Literal["active", "paused", "archived"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Range(_Strict):
    min: Annotated[float, Field(allow_inf_nan=False)] | None = None
    max: Annotated[float, Field(allow_inf_nan=False)] | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min must not exceed max")
        return self

    def contains(self, value: float) -> bool:
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)


class Segment(_Strict):
    """Every filter given must hold. ``tags``: any of them; ``tags_none``: none of them; ``tiers``: any of them.
    A segment with ``tags`` or ``tiers`` reads only that audience (its index), the others a day window."""

    napl: list[NaplClass] | None = None
    days_since_last_order: Range | None = None
    order_count: Range | None = None
    net_spent: Range | None = None
    tags: list[Annotated[str, StringConstraints(max_length=64)]] | None = None
    tags_none: list[Annotated[str, StringConstraints(max_length=64)]] | None = Field(default=None, max_length=50)
    tiers: list[Annotated[str, StringConstraints(min_length=1, max_length=64)]] | None = Field(default=None,
                                                                                               max_length=10)
    store_ids: list[Annotated[str, StringConstraints(max_length=64)]] | None = None
    bound: bool | None = None

    @staticmethod
    def spelling(tag: str) -> str:
        """The one spelling members carry a tag in (NFKC, trimmed, lower-case, inner spaces as ``-``, as webhook
        tags are kept), so ``VIP`` finds ``vip`` and ``VIP Customer`` finds ``vip-customer``."""
        return re.sub(r"\s+", "-", unicodedata.normalize("NFKC", tag).strip().lower())

    @field_validator("tags", "tags_none")
    @classmethod
    def _one_spelling(cls, value: list[str] | None) -> list[str] | None:
        """Nothing is refused here, so a campaign stored before still reads; a tag no member can carry finds none."""
        if not value:
            return value
        return list(dict.fromkeys(cls.spelling(t) for t in value))


class FrequencyCap(_Strict):
    max: int = Field(default=2, ge=1, le=100)
    days: int = Field(default=7, ge=1, le=365)


class Trigger(_Strict):
    """A journey: the campaign answers a member's moment instead of a schedule. ``delay_days`` waits after
    the moment (sent at ``send_at`` in the campaign's time zone); a birthday is sent on the day, once a year."""

    event: TriggerEvent
    delay_days: int = Field(default=0, ge=0, le=365)
    send_at: Annotated[str, StringConstraints(pattern=HHMM.pattern)] = Field(
        default="10:00", description="Local time of day a delayed or birthday message goes out (HH:MM).")
    tiers: list[Annotated[str, StringConstraints(min_length=1, max_length=64)]] | None = Field(
        default=None, max_length=10, description="member.tier_changed only: the tiers entered that count.")

    @model_validator(mode="after")
    def _fits_event(self) -> Trigger:
        if self.event == "birthday" and self.delay_days:
            raise ValueError("a birthday journey is sent on the day: delay_days must be 0")
        if self.tiers and self.event != "member.tier_changed":
            raise ValueError("tiers are for the member.tier_changed trigger only")
        return self


class CampaignIn(_Strict):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
    segment: Segment = Field(default_factory=Segment)
    message: Annotated[str, StringConstraints(min_length=1, max_length=1000)]
    channels: list[Channel] = Field(min_length=1, max_length=3)
    schedule: Annotated[str, StringConstraints(strip_whitespace=True, max_length=128)] | None = Field(
        default=None, description="An EventBridge Scheduler expression; give it or `trigger`, not both.")
    trigger: Trigger | None = Field(default=None, description="A member's moment that sends this campaign.")
    email_subject: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=150)] | None = (
        Field(default=None, description="The e-mail's subject (placeholders allowed); the campaign's name if none."))
    time_zone: str = "Asia/Taipei"
    conversion_days: int = Field(default=7, ge=1, le=90)
    quiet_hours: list[tuple[str, str]] | None = None
    frequency_cap: FrequencyCap = Field(default_factory=FrequencyCap)
    coupon: Annotated[str, StringConstraints(max_length=64)] | None = Field(
        default=None, description="One fixed code for `{coupon}`, the same for every member; `coupon_template_id` "
                                  "gives each member their own.")
    coupon_template_id: Annotated[str, StringConstraints(
        min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_\-]*$")] | None = Field(
        default=None, description="Each member reached gets a coupon of this template; its code fills `{coupon}`.")

    @field_validator("message")
    @classmethod
    def _known_placeholders(cls, value: str) -> str:
        """Only the documented placeholders, bare: a format spec or attribute access once built a 20 MB preview."""
        for token in TEMPLATE_TOKEN.finditer(value):
            if token.group() in ("{", "}"):
                raise ValueError(f"{_brace_problem(value, token.start())}; placeholders are {_PLACEHOLDER_LIST} "
                                 "exactly, and {{ and }} write literal braces")
        return value

    @field_validator("coupon_template_id")
    @classmethod
    def _coupon_is_shown(cls, value: str | None, info: ValidationInfo) -> str | None:
        """A member's own code is worth issuing only when the message shows it, and it replaces a fixed code."""
        if value is None:
            return value
        if info.data.get("coupon"):
            raise ValueError("give coupon_template_id or a fixed coupon, not both")
        message = info.data.get("message")
        if message is not None and not uses_coupon(message):
            raise ValueError("the message must show the member's code with {coupon}")
        return value

    @field_validator("channels")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("channels must not repeat")
        return value

    @field_validator("schedule")
    @classmethod
    def _expression(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not SCHEDULE.match(value):
            raise ValueError("schedule must be rate(...), cron(...) or at(...) as EventBridge Scheduler takes them")
        if value.startswith("cron(") and len(value[5:-1].split()) != 6:
            raise ValueError("cron(...) takes six fields: minutes hours day-of-month month day-of-week year")
        return value

    @field_validator("email_subject")
    @classmethod
    def _subject_placeholders(cls, value: str | None) -> str | None:
        return value if value is None else cls._known_placeholders(value)

    @model_validator(mode="after")
    def _one_start(self) -> CampaignIn:
        """A campaign starts by its schedule or by its trigger: exactly one of them."""
        if (self.schedule is None) == (self.trigger is None):
            raise ValueError("give a schedule or a trigger (exactly one)")
        return self

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("unknown time zone") from exc
        return value

    @field_validator("quiet_hours")
    @classmethod
    def _windows(cls, value: list[tuple[str, str]] | None) -> list[tuple[str, str]] | None:
        for start, end in value or []:
            if not HHMM.match(start) or not HHMM.match(end):
                raise ValueError("quiet hours are [\"HH:MM\", \"HH:MM\"] windows")
        return value


def uses_coupon(template: str) -> bool:
    return any(token.group(1) == "coupon" for token in TEMPLATE_TOKEN.finditer(template))


def _brace_problem(template: str, at: int) -> str:
    """Why the stray brace at ``at`` is not a placeholder, naming the position, not echoing the text."""
    where = f"character {at + 1}"
    if template[at] == "}":
        return f"the '}}' at {where} closes nothing"
    end = template.find("}", at)
    if end < 0:
        return f"the '{{' at {where} is never closed"
    inside = template[at + 1:end]
    if "!" in inside:
        return f"the placeholder at {where} has a conversion ('!'), which is not allowed"
    if ":" in inside:
        return f"the placeholder at {where} has a format spec (':'), which is not allowed"
    if "." in inside or "[" in inside:
        return f"the placeholder at {where} uses attribute or index access, which is not allowed"
    if not inside:
        return f"the '{{}}' at {where} names nothing"
    if re.fullmatch(r"\w{1,32}", inside):
        return f"unknown placeholder {{{inside}}} at {where}"
    return f"unknown placeholder at {where}"


class Campaign(CampaignIn):
    model_config = ConfigDict(extra="ignore")
    campaign_id: str
    created_at: str
    status: Status = "active"
    updated_at: str | None = None
    public_base: str = Field(default="", description="Where the API was reached when the campaign was written: "
                                                     "the base of its click and unsubscribe links.")

    def definition(self) -> dict[str, Any]:
        """What the marketer wrote (the input shape), for a change to be validated whole."""
        return self.model_dump(include=set(CampaignIn.model_fields))


class CampaignPatch(_Strict):
    """The fields a marketer may change on a campaign; the result is validated as a whole definition."""

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)] | None = None
    message: Annotated[str, StringConstraints(min_length=1, max_length=1000)] | None = None
    segment: Segment | None = None
    schedule: Annotated[str, StringConstraints(strip_whitespace=True, max_length=128)] | None = None
    trigger: Trigger | None = None
    channels: list[Channel] | None = Field(default=None, min_length=1, max_length=3)
    email_subject: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=150)] | None = None
    quiet_hours: list[tuple[str, str]] | None = None
    frequency_cap: FrequencyCap | None = None
    conversion_days: int | None = Field(default=None, ge=1, le=90)

    def applied_to(self, campaign: Campaign) -> dict[str, Any]:
        """The campaign's definition with the fields given here; a schedule given drops the trigger and back."""
        changes = self.model_dump(exclude_unset=True)
        definition = {**campaign.definition(), **changes}
        if "schedule" in changes and "trigger" not in changes:
            definition["trigger"] = None
        if "trigger" in changes and "schedule" not in changes:
            definition["schedule"] = None
        return definition


@dataclass
class SendRecord:
    """One member's send in one run: claimed before the provider is called, settled after."""

    campaign_id: str
    run_id: str
    member_id: str
    channel: str | None
    status: str
    kind: str = "campaign"
    reason: str | None = None
    job_id: str | None = None
    provider_message_id: str | None = None
    sent_at: str | None = None
    prior_orders: int | None = None  # the member's orders when the message went out (repurchase rate)


class SendJob(BaseModel):
    """One message job on the send queue: a multicast group of identical texts, or one member."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    job_id: str
    campaign_id: str
    run_id: str
    channel: Channel
    member_ids: list[str] = Field(min_length=1, max_length=500)
    text: str | None = None
    kind: Literal["campaign", "trigger"] = "campaign"
    trigger: str | None = None
    not_before: AwareDatetime | None = None


class QueuedSendJob(BaseModel):
    """A send queue record as Lambda hands it over."""

    model_config = ConfigDict(extra="ignore")
    messageId: str
    body: Json[SendJob]
