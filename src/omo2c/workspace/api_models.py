"""The staff member's API (/me): what a reply or a link takes, and what each route answers."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from omo2c.attribution.api_models import Totals
from omo2c.channels.line import LINE_TEXT_LIMIT
from omo2c.members.api_models import BindingChange, BindingView, MaskedIdentity
from omo2c.members.model import Napl
from omo2c.staff.api_models import QrLink

Url = Annotated[str, StringConstraints(strip_whitespace=True, min_length=8, max_length=2048,
                                       pattern=r"^https?://[^\s]+$")]
HttpsUrl = Annotated[str, StringConstraints(strip_whitespace=True, min_length=9, max_length=2000,
                                            pattern=r"^https://[^\s]+$")]

ReplyText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=LINE_TEXT_LIMIT)]


class _Shape(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Product(_Shape):
    url: Url = Field(description="The product page; the customer gets a share link to it, with your referral.")
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    image_url: HttpsUrl | None = Field(default=None, description="HTTPS, as LINE shows only HTTPS images.")
    price: Annotated[Decimal, Field(ge=0, le=10_000_000, max_digits=12, decimal_places=2)]


class ReplyIn(_Shape):
    """Exactly one of a text or a product card."""

    text: ReplyText | None = None
    product: Product | None = None

    @model_validator(mode="after")
    def _one(self) -> ReplyIn:
        if (self.text is None) == (self.product is None):
            raise ValueError("give exactly one of text or product")
        return self

    def product_fields(self) -> dict[str, Any] | None:
        if self.product is None:
            return None
        return {"url": self.product.url, "title": self.product.title, "image_url": self.product.image_url,
                "price": str(self.product.price)}


class LinkIn(_Shape):
    url: Url


class Me(_Shape):
    staff_id: str
    name: str
    store_id: str | None
    store_name: str | None
    role: str = Field(description="`staff` or `manager`.")
    qr: QrLink | None = Field(description="The staff member's QR link (none while they have no active code).")


class CustomerSummary(_Shape):
    member_id: str
    name: str | None
    phone_tail: str | None = Field(description="The phone's last three digits, to tell customers apart.")
    napl: Napl
    tier: str | None
    tags: list[str]
    unread: int
    last_message_at: str | None
    last_order_at: str | None
    line_followed: bool
    opted_out: bool


class MyCustomers(_Shape):
    customers: list[CustomerSummary]


class OrderLine(_Shape):
    model_config = ConfigDict(extra="allow")


class OrderView(_Shape):
    source: str
    order_id: str
    channel: str
    placed_at: str | None
    total: str
    net: str
    currency: str
    status: str
    store_id: str | None
    items: list[OrderLine]


class OrderPage(_Shape):
    orders: list[OrderView]
    next_cursor: str | None = Field(description="Pass as `before` for the next page.")


class ConversationSummary(_Shape):
    member_id: str
    unread: int
    last_in_at: str | None
    last_out_at: str | None
    awaiting_since: str | None
    notified_at: str | None
    inbox_store_id: str | None
    last_message_at: str | None


class CustomerDetail(CustomerSummary):
    identifiers: list[MaskedIdentity]
    consent: dict[str, bool]
    binding: BindingView | None
    binding_history: list[BindingChange]
    orders: OrderPage
    conversation: ConversationSummary | None


class MessageView(_Shape):
    model_config = ConfigDict(extra="allow")  # a sticker, image, location or product part, by kind

    message_id: str
    direction: str = Field(description="`in` from the customer, `out` from staff.")
    kind: str
    text: str | None
    staff_id: str | None
    at: str
    status: str


class Messages(_Shape):
    messages: list[MessageView]
    next_cursor: str | None = Field(description="Pass as `before` for older messages.")


class LinkView(_Shape):
    code: str
    url: str
    short_url: str
    created_at: str
    clicks: int
    bot_clicks: int
    repeat_clicks: int


class Links(_Shape):
    links: list[LinkView]


class InboxEntry(_Shape):
    member_id: str
    name: str | None
    unread: int
    last_in_at: str | None


class Inbox(_Shape):
    store_id: str
    conversations: list[InboxEntry]


class Kpis(_Shape):
    month: str
    staff_id: str
    bound_customers: int
    new_bindings: int
    messages_answered: int
    median_first_reply_seconds: int | None
    clicks: int = Field(description="Clicks on my share links by people (first click of a visitor in a day).")
    bot_clicks: int = Field(description="Link previews and crawlers, counted apart.")
    repeat_clicks: int = Field(description="The same visitor again within a day.")
    credited_orders: int
    credited_sales: dict[str, str] = Field(description="Net sales credited to me, by currency.")
    commission: Totals
