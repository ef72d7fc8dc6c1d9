"""The statements and attribution API's shapes: the month it takes, the statements and traces it answers.

Amounts are decimal strings. Response shapes forbid extra keys, so a view that grows a field
without its model fails the tests instead of silently dropping the field from the answer.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

Month = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$")]


class _Shape(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StatementLine(_Shape):
    created_at: str
    source: str
    order_id: str
    kind: str
    staff_id: str | None
    store_id: str | None
    base: str
    amount: str
    currency: str
    rule: str
    rate: str
    status: str


class Totals(_Shape):
    pending: str
    approved: str
    clawbacks: str
    total: str


class _Statement(_Shape):
    month: str
    currencies: list[str]
    lines: list[StatementLine]
    totals: Totals


class StaffStatement(_Statement):
    staff_id: str


class StoreStatement(_Statement):
    store_id: str


class RuleStep(_Shape):
    rule: str
    matched: bool
    reason: str


class OrderAttribution(_Shape):
    source: str
    order_id: str
    rule: str
    staff_id: str | None
    store_id: str | None
    decided_at: str
    applied_version: str
    net_kept: str
    commission: str
    currency: str
    trace: list[RuleStep]
    entries: list[StatementLine]
