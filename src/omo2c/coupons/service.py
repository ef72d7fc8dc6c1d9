"""Coupons end to end: templates, issuing a unique code to a member, redeeming it once, wallets and reports.

Every rule that must hold under concurrency is a condition of one DynamoDB transaction: a code is
redeemed by one order only (the same order again is answered as before), a member gets at most
``per_member_limit`` of a template, a staff member gives at most the monthly cap. Issuing with a ``key``
(a campaign run and member, a trigger and member) issues once however often it is retried.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from omo2c.core.errors import Conflict, InvalidEvent, NotFound, OmoError
from omo2c.core.observability import logger
from omo2c.coupons.model import (
    CodeTaken,
    Coupon,
    CouponTemplate,
    Redemption,
    discount,
    display_code,
    may_redeem,
    new_code,
    normal_code,
    staff_month,
    staff_of,
    valid_issuer,
)
from omo2c.events import BusEvent, OrderRecorded

CODE_DRAWS = 3
DEFAULT_STAFF_CAP = 20


class Store(Protocol):
    def put_template(self, template: CouponTemplate) -> None: ...
    def template(self, template_id: str) -> CouponTemplate | None: ...
    def templates(self) -> list[CouponTemplate]: ...
    def template_counts(self, template_id: str) -> tuple[CouponTemplate, dict[str, Any]] | None: ...
    def campaign_counts(self, campaign_id: str) -> dict[str, Any]: ...
    def coupon(self, code: str) -> Coupon | None: ...
    def issued_for(self, key: str) -> Coupon | None: ...
    def wallet(self, member_id: str) -> list[Coupon]: ...
    def issue(self, coupon: Coupon, per_member_limit: int, staff_cap: tuple[str, str, int] | None = None,
              key: str | None = None) -> Coupon: ...
    def redeem(self, coupon: Coupon, redemption: Redemption) -> bool: ...


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def template_view(template: CouponTemplate) -> dict[str, Any]:
    return {"template_id": template.template_id, "name": template.name, "kind": template.kind,
            "value": str(template.value), "min_spend": str(template.min_spend), "valid_days": template.valid_days,
            "per_member_limit": template.per_member_limit, "store_ids": list(template.store_ids),
            "created_at": template.created_at.isoformat() if template.created_at else None}


def coupon_view(coupon: Coupon, now: datetime) -> dict[str, Any]:
    redemption = coupon.redemption
    return {"code": display_code(coupon.code), "member_id": coupon.member_id, "template_id": coupon.template_id,
            "name": coupon.name, "kind": coupon.kind, "value": str(coupon.value),
            "min_spend": str(coupon.min_spend), "store_ids": list(coupon.store_ids), "state": coupon.state(now),
            "issued_at": coupon.issued_at.isoformat(), "expires_at": coupon.expires_at.isoformat(),
            "issued_by": coupon.issued_by, "campaign_id": coupon.campaign_id,
            "redemption": None if redemption is None else {
                "order_ref": redemption.order_ref, "store_id": redemption.store_id,
                "at": redemption.at.isoformat(), "order_total": _money(redemption.amount),
                "discount": _money(discount(coupon.kind, coupon.value, redemption.amount))}}


def _masked(code: str) -> str:
    """A code is a bearer token: logs name only its end."""
    return f"…{code[-3:]}" if len(code) > 3 else "…"


class Coupons:
    def __init__(self, store: Store, publish: Callable[[list[BusEvent]], None],
                 clock: Callable[[], datetime] = lambda: datetime.now(tz=UTC), *,
                 staff_monthly_cap: int | None = None, time_zone: str | None = None) -> None:
        settings = getattr(store, "settings", None)
        self.store, self.publish, self.clock = store, publish, clock
        self.staff_monthly_cap = staff_monthly_cap if staff_monthly_cap is not None else int(
            getattr(settings, "staff_coupon_monthly_cap", DEFAULT_STAFF_CAP))
        self.time_zone = time_zone or str(getattr(settings, "time_zone", "Asia/Taipei"))

    # ------------------------------------------------------------------ templates
    def create_template(self, name: str, kind: str, value: Decimal, min_spend: Decimal = Decimal(0),
                        valid_days: int = 30, per_member_limit: int = 1,
                        store_ids: list[str] | None = None, template_id: str | None = None) -> dict[str, Any]:
        """``template_id`` lets configuration name the template (a tier's or the sign-up's welcome); else a new id."""
        template = CouponTemplate(template_id or uuid.uuid4().hex[:12], name.strip(), kind, Decimal(value),  # type: ignore[arg-type]
                                  Decimal(min_spend), int(valid_days), int(per_member_limit),
                                  tuple(dict.fromkeys(store_ids or ())), self.clock())
        if problems := template.problems():
            raise InvalidEvent("invalid coupon template", problems)
        self.store.put_template(template)
        return template_view(template)

    def template(self, template_id: str) -> CouponTemplate:
        template = self.store.template(template_id) if len(template_id) <= 64 else None
        if template is None:
            raise NotFound("no such coupon template")
        return template

    def templates(self) -> dict[str, Any]:
        found = sorted(self.store.templates(), key=lambda t: (t.created_at or datetime.min.replace(tzinfo=UTC),
                                                              t.template_id))
        return {"templates": [template_view(t) for t in found]}

    # ------------------------------------------------------------------ issuing
    def issue(self, member_id: str, template_id: str, issued_by: str, campaign_id: str | None = None, *,
              key: str | None = None) -> dict[str, Any]:
        """A new coupon of the template for the member, with its own code (the view answers it).

        ``issued_by`` is "welcome", "tier:<id>", "campaign:<id>", "admin" or "staff:<id>"; a staff member's
        coupon counts against their monthly cap. With ``key`` a retry answers the coupon the first call gave.
        404 for an unknown template or member, 409 when the member's limit or the staff cap is reached."""
        if not valid_issuer(issued_by):
            raise InvalidEvent("unknown issuer", [{"field": "issued_by", "problem": "welcome, tier:<id>, "
                                                   "campaign:<id>, admin or staff:<id>"}])
        if key is not None and (earlier := self.store.issued_for(key)) is not None:
            return coupon_view(earlier, self.clock())
        template = self.template(template_id)
        now = self.clock().astimezone(UTC).replace(microsecond=0)
        staff_id = staff_of(issued_by)
        cap = (staff_id, staff_month(now, self.time_zone), self.staff_monthly_cap) if staff_id else None
        for _ in range(CODE_DRAWS):
            coupon = Coupon(new_code(), member_id, template.template_id, template.name, template.kind, template.value,
                            template.min_spend, now, now + timedelta(days=template.valid_days), issued_by,
                            template.store_ids, campaign_id)
            try:
                issued = self.store.issue(coupon, template.per_member_limit, cap, key)
            except CodeTaken:
                continue
            logger.info("coupon issued", extra={"template_id": template.template_id, "issued_by": issued_by,
                                                "code_end": _masked(issued.code)})
            return coupon_view(issued, now)
        raise RuntimeError("could not draw a free coupon code")

    # ------------------------------------------------------------------ redeeming
    def redeem(self, code: str, order_ref: str, store_id: str | None,
               order_total: Decimal | None = None) -> dict[str, Any]:
        """Use the coupon for the order: 200 the first time and again for the same ``order_ref``; 409 when
        another order used it, 410 when expired, 404 unknown, 422 below ``min_spend`` or at a store it is
        not valid in. Of two concurrent redemptions exactly one wins (the coupon's condition decides)."""
        normal = normal_code(code)
        coupon = self.store.coupon(normal) if normal else None
        if coupon is None:
            raise NotFound("no such coupon")
        now = self.clock().astimezone(UTC)
        if may_redeem(coupon, order_ref, store_id, order_total, now):
            redemption = Redemption(order_ref, store_id, now.replace(microsecond=0), order_total)
            if not self.store.redeem(coupon, redemption):
                coupon = self.store.coupon(coupon.code) or coupon
                # Raises why (another order won meanwhile, or it just expired); False: this order won before.
                if may_redeem(coupon, order_ref, store_id, order_total, now):
                    raise Conflict("the coupon changed concurrently; try again")
                return coupon_view(coupon, now)
            coupon = replace(coupon, status="redeemed", redemption=redemption)
            logger.info("coupon redeemed", extra={"template_id": coupon.template_id, "code_end": _masked(coupon.code)})
        return coupon_view(coupon, now)

    def record_order(self, event: OrderRecorded) -> str:
        """Redeem the codes an order carries, for order ref ``<source>#<order id>`` with the order's net (its
        minimum spend and the revenue counted). Every state of an order carries its codes again: the same order
        redeems once. An order cancelled later does NOT give its coupons back (a cancelled order seen first
        redeems nothing). A code that cannot be redeemed (unknown, used by another order, expired, below the
        minimum) is logged and skipped, so one bad code never holds up the order; only DynamoDB refusing
        (``Unavailable``) is raised, for the queue to retry (redeeming again is harmless)."""
        if not event.coupons:
            return "no coupons"
        if event.status == "cancelled":
            return "cancelled order: no coupons redeemed"
        order_ref = f"{event.source}#{event.order_id}"
        outcome: Counter[str] = Counter()
        for code in dict.fromkeys(event.coupons):
            try:
                self.redeem(code, order_ref, event.store_id, event.net)
                outcome["redeemed"] += 1
            except OmoError as error:
                if error.status == 503:
                    raise
                logger.warning("order coupon skipped", extra={"order_ref": order_ref, "code_end": _masked(code),
                                                              "reason": error.code, "problem": error.message})
                outcome["skipped"] += 1
        return ", ".join(f"{count} {what}" for what, count in sorted(outcome.items()))

    # ------------------------------------------------------------------ reading
    def wallet(self, member_id: str) -> dict[str, Any]:
        """The member's coupons, newest first, each available, used or expired, and how many of each."""
        now = self.clock().astimezone(UTC)
        views = [coupon_view(c, now) for c in self.store.wallet(member_id)]
        counts = Counter(v["state"] for v in views)
        return {"member_id": member_id, "available": counts["available"], "used": counts["used"],
                "expired": counts["expired"], "coupons": views}

    def template_report(self, template_id: str) -> dict[str, Any]:
        found = self.store.template_counts(template_id) if len(template_id) <= 64 else None
        if found is None:
            raise NotFound("no such coupon template")
        template, counts = found
        return {**template_view(template), "issued": counts["issued"], "redeemed": counts["redeemed"],
                "revenue": str(counts["revenue"])}

    def campaign_report(self, campaign_id: str) -> dict[str, Any]:
        """Coupons a campaign issued, how many were redeemed and the revenue of the redeeming orders."""
        counts = self.store.campaign_counts(campaign_id)
        return {"issued": counts["issued"], "redeemed": counts["redeemed"], "revenue": str(counts["revenue"])}
