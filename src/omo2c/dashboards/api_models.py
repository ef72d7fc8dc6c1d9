"""The dashboards API's shapes: one store's or staff member's month.

Amounts are maps of currency to decimal string. Response shapes forbid extra keys, so a view that grows a
field without its model fails the tests instead of silently dropping the field from the answer.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Amounts = dict[str, str]
Month = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$")]

DEFINITIONS = (
    "Kept as rollups by the dashboards consumer from the bus (exact under redelivery and reordering) and read "
    "in one request. All figures are month-granular, in the deployment's time zone (EC credit: its statement's "
    "month). A member counts in its home store (the store it was created at, moved by the store of a newer "
    "binding) and in its bound staff member's dashboard; POS sales in the order's store and checkout staff "
    "member; EC sales credited (commission entries' base: refunds and cancellations take back in the month "
    "they happen) and campaign conversions in the store and staff member they name. `members.new`: members "
    "who joined in the month; `bindings.new`: bindings made in the month. NAPL with a 3-month window: new = "
    "first order in the last 3 months (M-2..M), active = last order in them but not new, passive = last order "
    "3 to 5 months before M, lost = earlier, prospect = no order. OMO share: members whose last POS and last "
    "EC orders both fall in the last 12 months (M-11..M), over members with an order in them. Top-20% revenue "
    "share: the share of the month's member spend that its top 20% of buyers (rounded up) brought, from a "
    "spend histogram (4 buckets a doubling); `exact` is false when the 20% line fell inside a bucket, counted "
    "at its mean. Months after M count as within the windows (only when looking back). `trend`: the six "
    "months up to M, oldest first.")


class _Shape(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DashboardMembers(_Shape):
    new: int = Field(description="Members who joined in the month.")
    total: int = Field(description="Members counted here now.")


class DashboardBindings(_Shape):
    bound_customers: int = Field(description="Members counted here bound to a staff member now.")
    new: int = Field(description="Bindings made in the month.")


class DashboardSales(_Shape):
    orders: int
    amount: Amounts


class DashboardSalesByChannel(_Shape):
    pos: DashboardSales = Field(description="Counted POS orders placed in the month and their net kept.")
    ec_credited: DashboardSales = Field(description="EC sales credited in the month (commission entries' base).")


class DashboardOmoShare(_Shape):
    members_both_channels: int
    members_with_orders: int
    share: float | None = Field(description="None when no member ordered in the last 12 months.")


class DashboardNapl(_Shape):
    new: int
    active: int
    passive: int
    lost: int
    prospect: int


class DashboardTopShare(_Shape):
    share: float | None = Field(description="None when nobody bought in the month.")
    buyers: int
    exact: bool
    currency: str | None = Field(description="The currency with the most buyers, which the share is of.")


class DashboardCampaigns(_Shape):
    conversions: int
    revenue: Amounts


class DashboardTrendMonth(_Shape):
    month: str
    pos: Amounts
    ec_credited: Amounts
    new_members: int
    conversions: int


class Dashboard(_Shape):
    scope: Literal["store", "staff"]
    id: str
    month: str
    members: DashboardMembers
    bindings: DashboardBindings
    sales: DashboardSalesByChannel
    omo_share: DashboardOmoShare
    napl: DashboardNapl
    top20_revenue_share: DashboardTopShare
    campaigns: DashboardCampaigns
    trend: list[DashboardTrendMonth]
