"""The points API's shapes: the redemption it takes, the balance and history it answers.

Response shapes forbid extra keys, so a view that grows a field without its model fails the tests
instead of silently dropping the field from the answer.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints


class _Shape(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RedeemIn(_Shape):
    points: int = Field(gt=0, le=10_000_000, description="Points to pay with: all of them or none.")
    order_ref: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=160)] = Field(
        description="What is paid for, unique per redemption: asking again with it redeems nothing more. "
                    "Use `<source>#<order id>` for an order that the webhook will also report with "
                    "`points_redeemed`, so it counts once.")


class PointsBalance(_Shape):
    pending: int = Field(description="Earned, still in the holding period.")
    available: int
    expiring_soon: int = Field(description="Available points that expire within 30 days.")
    expired: int
    redeemed: int
    earned: int = Field(description="What every order earns on its net kept now.")
    shortfall: int = Field(description="Points refunds should have taken back but had already been spent.")
    unredeemed: int = Field(description="Points orders paid with that the balance could not cover.")


class PointsEntry(_Shape):
    kind: Literal["earned", "taken_back", "redeemed", "expired"]
    order_ref: str
    points: int
    at: str | None
    status: Literal["pending", "available", "expired"] | None = Field(description="An earning's points now.")
    shortfall: int
    via: Literal["api", "order"] | None = Field(description="How a redemption came.")


class MemberPoints(_Shape):
    member_id: str = Field(description="The survivor, when the id asked for was merged into it.")
    balance: PointsBalance
    history: list[PointsEntry]


class PointsRedeemed(_Shape):
    member_id: str
    order_ref: str
    points: int
    redeemed_at: str | None
    balance: PointsBalance
