"""The members admin API's shapes: the ids it takes, the unmerge request, the member as the admin sees it.

Response shapes forbid extra keys, so a view that grows a field without its model fails the tests
instead of silently dropping the field from the answer.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from omo2c.members.model import Napl

MemberId = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:\-]*$")]


class _Shape(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UnmergeIn(_Shape):
    merge_id: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = Field(
        default=None, description="The merge to undo; the latest one when left out.")


class ProfileEntry(_Shape):
    value: str
    source: str
    at: str | None


class MaskedIdentity(_Shape):
    kind: str
    value: str = Field(description="Phones and emails masked.")


class OrdersSummary(_Shape):
    count: int
    net_spent: str = Field(description="A decimal amount.")
    first_order_at: str | None
    last_order_at: str | None


class LineView(_Shape):
    user_id: str
    followed: bool
    reachable: bool
    updated_at: str


class NoLine(_Shape):
    """No LINE account is known for the member."""


class BindingView(_Shape):
    staff_id: str | None
    store_id: str | None
    bound_at: str
    via: str
    policy_version: str
    last_interaction_at: str
    active: bool


class MergeSummary(_Shape):
    merge_id: str
    absorbed_member_id: str
    at: str
    event_id: str | None
    reason: str
    status: str
    moved_identities: list[str]


class BindingChange(_Shape):
    staff_id: str | None
    store_id: str | None
    previous_staff_id: str | None
    via: str
    policy_version: str
    at: str


class NextTier(_Shape):
    id: str
    name: str
    min_spend: str = Field(description="A decimal amount.")


class TierSummary(_Shape):
    id: str
    name: str
    since: str | None
    spend_in_window: str = Field(description="Net spend in the tier window, a decimal amount.")
    next_tier: NextTier | None
    amount_to_next: str | None = Field(description="Spend still needed for the next tier; None at the top.")
    benefits: list[str]


class PointsSummary(_Shape):
    available: int
    pending: int
    expiring_soon: int


class MemberView(_Shape):
    member_id: str
    status: str
    created_at: str | None
    name: str | None
    profile: dict[str, ProfileEntry]
    identities: list[MaskedIdentity]
    consent: dict[str, bool]
    tags: list[str]
    orders: OrdersSummary
    napl: Napl
    line: LineView | NoLine
    binding: BindingView | None
    home_store_id: str | None = Field(description="The active binding's store, else the store of the first POS order")
    opted_out: bool
    merged_members: list[str]
    merges: list[MergeSummary]
    binding_history: list[BindingChange]
    tier: TierSummary | None = Field(default=None, description="None until the member's first order.")
    points: PointsSummary | None = None


class UnmergeResult(_Shape):
    unmerged: MergeSummary
    restored_member_id: str
