"""The coupons API's shapes: what a template, an issue or a redemption takes, and what each route answers.

Response shapes forbid extra keys, so a view that grows a field without its model fails the tests
instead of silently dropping the field from the answer. Amounts come in as numbers and go out as
decimal strings, like every amount the API answers.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from omo2c.coupons.model import MAX_PER_MEMBER, MAX_VALID_DAYS
from omo2c.sources.canonical import Id

TemplateId = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_\-]*$")]
CouponCode = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9\-]*$")]
Money = Annotated[Decimal, Field(ge=0, le=Decimal("1e9"), decimal_places=2, allow_inf_nan=False)]
DecimalText = Annotated[str, Field(description="A decimal amount.")]


class _Shape(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CouponTemplateIn(_Shape):
    template_id: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{1,39}$")] | None = Field(
        default=None, description="A stable id settings can name (e.g. a tier's `welcome_coupon_template`); "
                                  "taken already: 409. None: a new id.")
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
    kind: Literal["amount", "percent"] = Field(description="`amount`: `value` off; `percent`: `value` % off.")
    value: Annotated[Decimal, Field(gt=0, le=Decimal("1e9"), decimal_places=2, allow_inf_nan=False)]
    min_spend: Money = Field(default=Decimal(0), description="The order total the coupon needs (0: any order).")
    valid_days: int = Field(default=30, ge=1, le=MAX_VALID_DAYS, description="How long a coupon lasts once issued.")
    per_member_limit: int = Field(default=1, ge=1, le=MAX_PER_MEMBER,
                                  description="How many coupons of this template one member may ever get.")
    store_ids: list[Id] | None = Field(
        default=None, max_length=200, description="Only these stores may redeem it; none: any store or the web shop.")

    @model_validator(mode="after")
    def _percentage(self) -> CouponTemplateIn:
        if self.kind == "percent" and self.value > 100:
            raise ValueError("a percent coupon takes at most 100 (% off)")
        return self


class CouponTemplateView(_Shape):
    template_id: str
    name: str
    kind: str
    value: DecimalText
    min_spend: DecimalText
    valid_days: int
    per_member_limit: int
    store_ids: list[str]
    created_at: str | None


class CouponTemplates(_Shape):
    templates: list[CouponTemplateView]


class CouponTemplateReport(CouponTemplateView):
    issued: int = Field(description="Coupons of the template issued, by every channel.")
    redeemed: int
    revenue: DecimalText = Field(description="The totals of the orders that redeemed them.")


class IssueCouponIn(_Shape):
    template_id: TemplateId


class RedeemCouponIn(_Shape):
    order_ref: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] = Field(
        description="The order, e.g. `pos#ST01-1`: redeeming again with the same order answers as before.")
    store_id: Id = Field(description="The store redeeming it; a store's POS key may redeem only in its store.")
    order_total: Money | None = Field(default=None, description="Needed when the coupon has a minimum spend; "
                                                                "counted as the revenue of the redemption.")


class CouponRedemption(_Shape):
    order_ref: str
    store_id: str | None
    at: str
    order_total: DecimalText | None
    discount: DecimalText | None = Field(description="What the coupon takes off the order, when its total is known.")


class CouponView(_Shape):
    code: str = Field(description="Upper case for display; any case is accepted back.")
    member_id: str
    template_id: str
    name: str
    kind: str
    value: DecimalText
    min_spend: DecimalText
    store_ids: list[str]
    state: Literal["available", "used", "expired"]
    issued_at: str
    expires_at: str
    issued_by: str = Field(description="`welcome`, `tier:<id>`, `campaign:<id>`, `admin` or `staff:<id>`.")
    campaign_id: str | None
    redemption: CouponRedemption | None


class CouponWallet(_Shape):
    member_id: str
    available: int
    used: int
    expired: int
    coupons: list[CouponView] = Field(description="Newest first.")


class CouponCounts(_Shape):
    """A campaign's coupons: issued to its members, redeemed, and the revenue of the redeeming orders."""

    issued: int
    redeemed: int
    revenue: DecimalText
