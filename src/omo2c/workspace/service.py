"""The signed-in staff member's own workspace: their customers, conversations, replies, links and numbers.

Every operation starts from the :class:`~omo2c.access.model.Principal` the authorizer vouched
for, never from anything the browser says about itself. A customer is a staff member's when
actively bound to them, and a manager's when of their store; anything else is 403 without a
hint of whether the customer exists.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol

from omo2c.access.model import NOT_YOURS, Principal, Role, may_serve, require_staff
from omo2c.binding.model import Binding, BindingPolicy
from omo2c.channels.line import LineRejected, LineUnavailable
from omo2c.conversations.model import ConversationHead
from omo2c.conversations.service import Conversations
from omo2c.core.errors import Conflict, Forbidden, InvalidEvent, NotFound, Unavailable
from omo2c.identity.identifiers import Identifier, IdentifierKind
from omo2c.links.model import ShareLink
from omo2c.links.service import ShareLinks
from omo2c.members.model import Member, binding_view, home_store, masked
from omo2c.orders.model import OrderRecord
from omo2c.staff.model import Staff
from omo2c.workspace.model import median_seconds, product_card, reply_id, retry_key, sender, text_message

MONTH_FORMAT = "%Y-%m"


class Directory(Protocol):
    def staff(self, staff_id: str) -> Staff | None: ...

    def store_name(self, store_id: str | None) -> str | None: ...


class Members(Protocol):
    def get_member(self, member_id: str) -> Member | None: ...

    def bound_to(self, staff_id: str) -> list[Member]: ...

    def binding_history(self, member_id: str) -> list[dict[str, Any]]: ...


class Orders(Protocol):
    def __call__(self, member_ids: list[str], limit: int, before: int | None) -> tuple[list[OrderRecord], int | None]:
        ...


class Messenger(Protocol):
    def push_messages(self, user_id: str, messages: list[dict[str, Any]], retry_key: str) -> str | None: ...


class Commissions(Protocol):
    def staff_statement(self, staff_id: str, month: str, caller: Principal = ...) -> dict[str, Any]: ...


class Kpis(Protocol):
    def month(self, staff_id: str, month: str) -> dict[str, Any]: ...


class Coupons(Protocol):
    def issue(self, member_id: str, template_id: str, issued_by: str, campaign_id: str | None = None, *,
              key: str | None = None) -> dict[str, Any]: ...


class StaffLinks(Protocol):
    def link(self, staff_id: str, caller: Principal = ...) -> dict[str, str]: ...

    def qr_png(self, staff_id: str, caller: Principal = ...) -> bytes: ...


@dataclass
class StaffWorkspace:
    directory: Directory
    members: Members
    orders: Orders
    conversations: Conversations
    links: ShareLinks
    commissions: Commissions
    counters: Kpis
    qr: StaffLinks
    messenger: Callable[[], Messenger]
    binding_policy: BindingPolicy
    napl_window_days: int
    brand: str
    clock: Callable[[], datetime] = lambda: datetime.now(tz=UTC)
    coupons: Coupons | None = None

    # ------------------------------------------------------------------ who I am
    def _me(self, caller: Principal) -> Staff:
        require_staff(caller)
        assert caller.staff_id is not None
        staff = self.directory.staff(caller.staff_id)
        if staff is None or not staff.active:
            raise Forbidden("this staff member is no longer active")
        return staff

    def me(self, caller: Principal) -> dict[str, Any]:
        staff = self._me(caller)
        try:
            qr: dict[str, str] | None = self.qr.link(staff.staff_id, caller)
        except NotFound:
            qr = None
        return {"staff_id": staff.staff_id, "name": staff.name, "store_id": staff.store_id,
                "store_name": self.directory.store_name(staff.store_id), "role": caller.role.value, "qr": qr}

    def qr_png(self, caller: Principal) -> bytes:
        staff = self._me(caller)
        return self.qr.qr_png(staff.staff_id, caller)

    # ------------------------------------------------------------------ customers
    def _active(self, member: Member) -> Binding | None:
        binding = member.binding
        return binding if binding is not None and binding.is_active(self.clock(), self.binding_policy) else None

    def _customer(self, caller: Principal, member_id: str) -> Member:
        """The customer if the (already checked) staff caller may serve them; 403 alike for someone else's and
        for no one."""
        member = self.members.get_member(member_id)
        if member is None or not member.live:
            raise Forbidden(NOT_YOURS)
        active = self._active(member)
        if not may_serve(caller, active.staff_id if active else None, home_store(member, active)):
            raise Forbidden(NOT_YOURS)
        return member

    def _summary(self, member: Member, head: ConversationHead | None) -> dict[str, Any]:
        phone = member.phone
        last_order = member.rfm.last_order_at
        return {"member_id": member.member_id, "name": member.profile_value("name"),
                "phone_tail": phone[-3:] if phone else None,
                "napl": member.rfm.napl(self.clock(), self.napl_window_days).value, "tier": None,
                "tags": list(member.tags), "unread": head.unread if head else 0,
                "last_message_at": _iso(head.last_message_at if head else None),
                "last_order_at": _iso(datetime.fromtimestamp(last_order / 1000, tz=UTC) if last_order else None),
                "line_followed": bool(member.line and member.line.followed), "opted_out": member.opted_out}

    def customers(self, caller: Principal, query: str | None = None, sort: str = "last_message") -> dict[str, Any]:
        """My actively bound customers with their conversation state; ``query`` is a name or a phone's last digits."""
        staff = self._me(caller)
        mine = [m for m in self.members.bound_to(staff.staff_id)
                if m.live and (active := self._active(m)) is not None and active.staff_id == staff.staff_id]
        wanted = (query or "").strip().casefold()
        if wanted:
            mine = [m for m in mine if _matches(m, wanted)]
        heads = self.conversations.heads([m.member_id for m in mine]) if mine else {}
        rows = [self._summary(m, heads.get(m.member_id)) for m in mine]
        key = "last_order_at" if sort == "last_order" else "last_message_at"
        rows.sort(key=lambda r: (r[key] or "", r["member_id"]), reverse=True)
        return {"customers": rows}

    def customer(self, caller: Principal, member_id: str, before: int | None = None,
                 limit: int = 20) -> dict[str, Any]:
        self._me(caller)
        member = self._customer(caller, member_id)
        active = self._active(member)
        orders, next_before = self.orders([member.member_id, *member.absorbed], limit, before)
        head = self.conversations.head(member.member_id)
        return {**self._summary(member, head),
                "identifiers": [_for_staff(i) for i in member.identifiers], "consent": dict(member.consent),
                "binding": binding_view(member.binding, active is not None),
                "binding_history": self.members.binding_history(member.member_id),
                "orders": {"orders": [_order(o) for o in orders],
                           "next_cursor": str(next_before) if next_before is not None else None},
                "conversation": head.view() if head else None}

    # ------------------------------------------------------------------ conversations
    def messages(self, caller: Principal, member_id: str, before: str | None = None) -> dict[str, Any]:
        """Reading the conversation as its staff member marks it read."""
        self._me(caller)
        member = self._customer(caller, member_id)
        messages, cursor = self.conversations.messages(member.member_id, 30, before)
        active = self._active(member)
        if before is None and active is not None and active.staff_id == caller.staff_id:
            head = self.conversations.head(member.member_id)
            if head is not None and head.unread:
                self.conversations.mark_read(member.member_id)
        return {"messages": [m.view() for m in messages], "next_cursor": cursor}

    def reply(self, caller: Principal, member_id: str, text: str | None, product: dict[str, Any] | None,
              idempotency_key: str | None, base_url: str) -> tuple[dict[str, Any], bool]:
        """Push a text or a product card in the staff member's name; the same Idempotency-Key sends once.

        The reply is recorded (pending) before LINE is called, and LINE's retry key is derived from it,
        so a retried request neither records nor delivers twice; one still pending (a crash, or a request
        still under way) is pushed again with the same retry key, which LINE delivers once.
        """
        staff = self._me(caller)
        member = self._customer(caller, member_id)
        if not (member.line and member.line.followed and member.line_user_id):
            raise Conflict("this customer does not follow the Official Account, so LINE cannot reach them")
        if product is not None and member.opted_out:
            raise Conflict("this customer opted out of marketing messages: send a text instead")
        message_id = reply_id(staff.staff_id, member.member_id, idempotency_key)
        kind = "product" if product is not None else "text"
        data = {k: v for k, v in (product or {}).items() if v is not None}
        message, created = self.conversations.begin_reply(member.member_id, staff.staff_id, message_id, kind,
                                                          text, data or None)
        if not created and message.status != "pending":
            return message.view(), False
        who = sender(staff.name, self.brand)
        if product is not None:
            link = self.links.create(staff.staff_id, str(product["url"]))
            short_url = self.links.short_url(base_url, link.code)
            line_message = product_card(product, short_url, who)
        else:
            line_message = text_message(str(text), who)
        try:
            line_id = self.messenger().push_messages(member.line_user_id, [line_message], retry_key(message_id))
        except LineUnavailable as exc:
            self.conversations.finish_reply(message, False)
            raise Unavailable("LINE is busy: send again with the same Idempotency-Key") from exc
        except LineRejected as exc:
            self.conversations.finish_reply(message, False)
            raise Conflict("LINE refused this message") from exc
        self.conversations.finish_reply(message, True, line_id)
        view = {**message.view(), "status": "sent"}
        if product is not None:
            view["product"] = {**view.get("product", {}), "short_url": short_url}
        return view, True

    def give_coupon(self, caller: Principal, member_id: str, template_id: str) -> dict[str, Any]:
        """A coupon from me to my own customer (a manager: to any customer of the store), in my name and within my
        monthly cap (409 once it is reached, or when the customer has the most of this template)."""
        staff = self._me(caller)
        member = self._customer(caller, member_id)
        if self.coupons is None:
            raise Unavailable("coupons are not available here")
        return self.coupons.issue(member.member_id, template_id, f"staff:{staff.staff_id}")

    def inbox(self, caller: Principal) -> dict[str, Any]:
        """The store's customers with no staff member bound: a manager's to answer."""
        self._me(caller)
        if caller.role is not Role.MANAGER or not caller.store_id:
            raise Forbidden("the store's inbox is its manager's")
        heads = self.conversations.inbox(caller.store_id)
        names = {m.member_id: m.profile_value("name") for m in
                 (self.members.get_member(h.member_id) for h in heads[:50]) if m is not None}
        return {"store_id": caller.store_id, "conversations": [
            {"member_id": h.member_id, "name": names.get(h.member_id), "unread": h.unread,
             "last_in_at": _iso(h.last_in_at)} for h in heads]}

    # ------------------------------------------------------------------ share links
    def create_link(self, caller: Principal, url: str, base_url: str) -> dict[str, Any]:
        staff = self._me(caller)
        return self._link_view(self.links.create(staff.staff_id, url), base_url)

    def my_links(self, caller: Principal, base_url: str) -> dict[str, Any]:
        staff = self._me(caller)
        return {"links": [self._link_view(link, base_url) for link in self.links.list(staff.staff_id)]}

    def _link_view(self, link: ShareLink, base_url: str) -> dict[str, Any]:
        return {"code": link.code, "url": link.url, "short_url": self.links.short_url(base_url, link.code),
                "created_at": link.created_at.isoformat(), "clicks": link.clicks or 0,
                "bot_clicks": link.bot_clicks or 0, "repeat_clicks": link.repeat_clicks or 0}

    # ------------------------------------------------------------------ numbers
    def statement(self, caller: Principal, month: str) -> dict[str, Any]:
        staff = self._me(caller)
        return self.commissions.staff_statement(staff.staff_id, month, caller)

    def kpis(self, caller: Principal, month: str) -> dict[str, Any]:
        """The month's numbers from the ledger, the bindings and the staff member's counters (no scan)."""
        staff = self._me(caller)
        statement = self.commissions.staff_statement(staff.staff_id, month, caller)
        counters = self.counters.month(staff.staff_id, month)
        bound = [m for m in self.members.bound_to(staff.staff_id) if m.live and m.binding is not None
                 and m.binding.staff_id == staff.staff_id]
        credited = {(line["source"], line["order_id"]) for line in statement["lines"] if line["kind"] == "sale"}
        sales: dict[str, Decimal] = {}
        for line in statement["lines"]:
            sales[line["currency"]] = sales.get(line["currency"], Decimal(0)) + Decimal(line["base"])
        return {"month": month, "staff_id": staff.staff_id,
                "bound_customers": sum(1 for m in bound if self._active(m) is not None),
                "new_bindings": sum(1 for m in bound if m.binding is not None
                                    and m.binding.bound_at.astimezone(UTC).strftime(MONTH_FORMAT) == month),
                "messages_answered": counters["messages_answered"],
                "median_first_reply_seconds": median_seconds(counters["reply_seconds"]),
                "clicks": counters["clicks"], "bot_clicks": counters["bot_clicks"],
                "repeat_clicks": counters["repeat_clicks"], "credited_orders": len(credited),
                "credited_sales": {currency: str(total) for currency, total in sorted(sales.items())},
                "commission": statement["totals"]}


def _for_staff(identifier: Identifier) -> dict[str, str]:
    """Staff see that a LINE account or POS number is there, masked like phones and emails, never the value."""
    view = masked(identifier)
    if identifier.kind not in (IdentifierKind.PHONE, IdentifierKind.EMAIL):
        value = identifier.value
        view["value"] = f"{value[:1]}***{value[-3:]}" if len(value) > 6 else "***"
    return view


def _matches(member: Member, wanted: str) -> bool:
    if wanted.isdigit():
        return bool(member.phone) and member.phone.endswith(wanted) and len(wanted) >= 3
    return wanted in (member.profile_value("name") or "").casefold()


def _order(order: OrderRecord) -> dict[str, Any]:
    placed = datetime.fromtimestamp(order.placed_at / 1000, tz=UTC).isoformat() if order.placed_at else None
    return {"source": order.source, "order_id": order.order_id, "channel": order.channel, "placed_at": placed,
            "total": str(order.total), "net": str(order.net_kept), "currency": order.currency,
            "status": order.status, "store_id": order.store_id, "items": order.items}


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def parse_before(value: str | None) -> int | None:
    """The order history's page cursor: the ``placed_at`` (epoch ms) of the last order seen."""
    if value is None or value == "":
        return None
    if not value.isdigit() or len(value) > 15:
        raise InvalidEvent("before must be the cursor of a previous page", [{"field": "before", "problem": "junk"}])
    return int(value)
