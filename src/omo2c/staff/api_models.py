"""The staff and store admin API's shapes: what a PUT or a leave takes, and what each route answers.

Response shapes forbid extra keys, so a view that grows a field without its model fails the tests
instead of silently dropping the field from the answer.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from omo2c.sources.canonical import Id

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]


class _Shape(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StaffIn(_Shape):
    name: Name
    store_id: Id | None = None
    status: Literal["active", "left"] = "active"
    role: Literal["staff", "manager"] = Field(
        default="staff", description="A manager sees everything of their store; only the admin makes managers.")


class StoreIn(_Shape):
    name: Name
    phone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=32)] | None = Field(
        default=None, description="The store's own phone: it never identifies a customer.")


class LeaveIn(_Shape):
    """Exactly one transfer target: active bindings move there, with history."""

    transfer_to_staff_id: Id | None = None
    transfer_to_store_id: Id | None = None

    @model_validator(mode="after")
    def _one_target(self) -> LeaveIn:
        if bool(self.transfer_to_staff_id) == bool(self.transfer_to_store_id):
            raise ValueError("give exactly one of transfer_to_staff_id or transfer_to_store_id")
        return self


class StaffView(_Shape):
    staff_id: str
    name: str
    store_id: str | None
    status: str
    transfer_to_staff_id: str | None
    transfer_to_store_id: str | None
    role: str
    line_linked: bool = Field(description="Whether a LINE account is linked (the staff member can sign in).")


class LinkCode(_Shape):
    code: str = Field(description="One-time, valid for a day.")
    message: str = Field(description="What the staff member sends the Official Account from their own LINE.")
    url: str = Field(description="A LINE link that opens the Official Account's chat with the message filled in.")
    expires_at: str


class StoreView(_Shape):
    store_id: str
    name: str
    phone_registered: bool


class StoreSummary(_Shape):
    store_id: str
    name: str


class StoreList(_Shape):
    stores: list[StoreSummary] = Field(description="Every store, by id.")


class QrLink(_Shape):
    url: str = Field(description="The LINE link the QR code encodes.")
    message: str = Field(description="The text it prefills, ending with the staff member's code.")


class BoundCustomer(_Shape):
    member_id: str
    name: str | None
    bound_at: str
    via: str
    active: bool
    line_followed: bool


class Customers(_Shape):
    staff_id: str
    customers: list[BoundCustomer]


class LeaveResult(_Shape):
    staff: StaffView
    moved_bindings: int
