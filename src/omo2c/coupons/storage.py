"""Coupon templates, coupons, members' wallets and the counters behind limits and reports, in the members table.

pk=COUPONTEMPLATES, sk=TEMPLATE#<id>: a template with its counters (issued, redeemed, revenue), all listed by
one query. pk=COUPON#<code>, sk=COUPON: a coupon, the one item a redemption reads and conditions on.
pk=MEMBER#<id>, sk=COUPON#<issued epoch>#<code>: the member's wallet entry, a copy kept in step in the same
transactions, so a wallet is one query. pk=MEMBER#<id>, sk=COUPONLIMIT#<template>: how many of a template the
member was given; pk=STAFFCOUPONS#<staff>, sk=MONTH#<YYYY-MM>: how many a staff member gave that month (both
ADDed under a condition, so a limit holds under any concurrency); pk=COUPONCAMPAIGN#<id>, sk=COUNTS: a
campaign's coupon counters; pk=COUPONISSUE#<hash of a key>, sk=ISSUE: which code a keyed issue gave, so a
retried send issues nothing new.
"""

from __future__ import annotations

import hashlib
import random
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pynamodb.attributes import ListAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import PynamoDBException, TransactWriteError
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from omo2c.core.dynamo import DecimalAttribute, MembersTableItem, configure
from omo2c.core.errors import Conflict, NotFound, Unavailable
from omo2c.core.settings import Settings
from omo2c.coupons.model import CodeTaken, Coupon, CouponTemplate, Redemption

CONFLICT_RETRIES = 5
WALLET_LIMIT = 500


class CouponTemplateItem(MembersTableItem):
    template_id = UnicodeAttribute()
    name = UnicodeAttribute()
    kind = UnicodeAttribute()
    value = DecimalAttribute()
    min_spend = DecimalAttribute()
    valid_days = NumberAttribute()
    per_member_limit = NumberAttribute()
    store_ids = ListAttribute(of=UnicodeAttribute, null=True)
    created_at = UnicodeAttribute()
    issued = NumberAttribute(default=0)
    redeemed = NumberAttribute(default=0)
    revenue = DecimalAttribute(null=True)


class _CouponFields(MembersTableItem):
    """What a coupon and its wallet entry both carry: the terms it was issued with and its redemption."""

    code = UnicodeAttribute()
    member_id = UnicodeAttribute()
    template_id = UnicodeAttribute()
    name = UnicodeAttribute()
    kind = UnicodeAttribute()
    value = DecimalAttribute()
    min_spend = DecimalAttribute()
    store_ids = ListAttribute(of=UnicodeAttribute, null=True)
    issued_at = NumberAttribute()
    expires_at = NumberAttribute()
    issued_by = UnicodeAttribute()
    campaign_id = UnicodeAttribute(null=True)
    status = UnicodeAttribute(default="available")
    order_ref = UnicodeAttribute(null=True)
    redeemed_store_id = UnicodeAttribute(null=True)
    redeemed_at = NumberAttribute(null=True)
    amount = DecimalAttribute(null=True)


class CouponItem(_CouponFields):
    pass


class WalletItem(_CouponFields):
    pass


class CouponLimitItem(MembersTableItem):
    issued = NumberAttribute(null=True)


class StaffCouponsItem(MembersTableItem):
    staff_id = UnicodeAttribute(null=True)
    month = UnicodeAttribute(null=True)
    given = NumberAttribute(null=True)


class CampaignCouponsItem(MembersTableItem):
    issued = NumberAttribute(null=True)
    redeemed = NumberAttribute(null=True)
    revenue = DecimalAttribute(null=True)


class CouponIssueItem(MembersTableItem):
    code = UnicodeAttribute()


class MemberProfileItem(MembersTableItem):
    """The member's own item, read only to condition an issue on the member being live."""

    status = UnicodeAttribute(null=True)


MODELS = (CouponTemplateItem, CouponItem, WalletItem, CouponLimitItem, StaffCouponsItem, CampaignCouponsItem,
          CouponIssueItem, MemberProfileItem)


def template_key(template_id: str) -> tuple[str, str]:
    return "COUPONTEMPLATES", f"TEMPLATE#{template_id}"


def coupon_key(code: str) -> tuple[str, str]:
    return f"COUPON#{code}", "COUPON"


def wallet_key(member_id: str, issued_epoch: int, code: str) -> tuple[str, str]:
    return f"MEMBER#{member_id}", f"COUPON#{issued_epoch:012d}#{code}"


def limit_key(member_id: str, template_id: str) -> tuple[str, str]:
    return f"MEMBER#{member_id}", f"COUPONLIMIT#{template_id}"


def staff_month_key(staff_id: str, month: str) -> tuple[str, str]:
    return f"STAFFCOUPONS#{staff_id}", f"MONTH#{month}"


def campaign_key(campaign_id: str) -> tuple[str, str]:
    return f"COUPONCAMPAIGN#{campaign_id}", "COUNTS"


def issue_key(key: str) -> tuple[str, str]:
    return f"COUPONISSUE#{hashlib.sha256(key.encode()).hexdigest()}", "ISSUE"


def _epoch(at: datetime) -> int:
    return int(at.timestamp())


def _moment(epoch: Any) -> datetime:
    return datetime.fromtimestamp(int(epoch), tz=UTC)


def _template(item: CouponTemplateItem) -> CouponTemplate:
    return CouponTemplate(item.template_id, item.name, item.kind, item.value, item.min_spend,  # type: ignore[arg-type]
                          int(item.valid_days), int(item.per_member_limit), tuple(item.store_ids or ()),
                          datetime.fromisoformat(item.created_at))


def _coupon(item: _CouponFields) -> Coupon:
    redemption = None
    if item.status == "redeemed" and item.order_ref:
        redemption = Redemption(item.order_ref, item.redeemed_store_id, _moment(item.redeemed_at or 0), item.amount)
    return Coupon(item.code, item.member_id, item.template_id, item.name, item.kind,  # type: ignore[arg-type]
                  item.value, item.min_spend, _moment(item.issued_at), _moment(item.expires_at), item.issued_by,
                  tuple(item.store_ids or ()), item.campaign_id, item.status, redemption)  # type: ignore[arg-type]


def _fields(coupon: Coupon) -> dict[str, Any]:
    return {"code": coupon.code, "member_id": coupon.member_id, "template_id": coupon.template_id,
            "name": coupon.name, "kind": coupon.kind, "value": coupon.value, "min_spend": coupon.min_spend,
            "store_ids": list(coupon.store_ids) or None, "issued_at": _epoch(coupon.issued_at),
            "expires_at": _epoch(coupon.expires_at), "issued_by": coupon.issued_by,
            "campaign_id": coupon.campaign_id, "status": coupon.status}


class _Transaction:
    """One TransactWrite that knows which of its items each cancellation reason belongs to.

    DynamoDB answers one reason per item in request order, and pynamodb sends condition checks, then
    puts, then updates; the labels are kept in that order."""

    def __init__(self) -> None:
        self._operations: list[Any] = []
        self._labels: dict[str, list[str]] = {"check": [], "put": [], "update": []}

    def check(self, label: str, model: type[Model], key: tuple[str, str], condition: Any) -> None:
        self._operations.append(lambda tx: tx.condition_check(model, *key, condition=condition))
        self._labels["check"].append(label)

    def put(self, label: str, item: Model, condition: Any = None) -> None:
        self._operations.append(lambda tx: tx.save(item, condition=condition))
        self._labels["put"].append(label)

    def update(self, label: str, item: Model, actions: list[Any], condition: Any = None) -> None:
        self._operations.append(lambda tx: tx.update(item, actions=actions, condition=condition))
        self._labels["update"].append(label)

    def commit(self) -> set[str] | None:
        """None when written, else the labels of the items whose condition failed.

        Raises :class:`_Contended` when only a concurrent transaction on the same items cancelled this one."""
        try:
            with TransactWrite(connection=CouponItem._get_connection().connection) as tx:
                for operation in self._operations:
                    operation(tx)
        except TransactWriteError as exc:
            reasons = [r.code if r is not None else None for r in exc.cancellation_reasons or []]
            if not reasons:
                raise Unavailable("the coupon could not be written; try again") from exc
            labels = self._labels["check"] + self._labels["put"] + self._labels["update"]
            failed = {label for label, code in zip(labels, reasons, strict=False) if code == "ConditionalCheckFailed"}
            if not failed and any(code in ("TransactionConflict", "ThrottlingError") for code in reasons):
                raise _Contended from exc
            return failed
        return None


class _Contended(Exception):
    """Cancelled by a concurrent transaction on the same items, not by a condition: try again."""


def _retrying(attempt: Any) -> Any:
    """Run one transaction attempt again while it only lost a race on shared counters (a template's)."""
    for n in range(CONFLICT_RETRIES):
        try:
            return attempt()
        except _Contended:
            time.sleep(min(0.5, 0.02 * 2 ** n) * (0.5 + random.random()))  # noqa: S311 - jitter, not a secret
        except PynamoDBException as exc:
            raise Unavailable("the coupons could not be read or written; try again") from exc
    raise Conflict("the coupon kept conflicting with concurrent writes; try again")


class CouponStore:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        configure(settings, MODELS)

    # ------------------------------------------------------------------ templates
    def put_template(self, template: CouponTemplate) -> None:
        assert template.created_at is not None
        item = CouponTemplateItem(*template_key(template.template_id), template_id=template.template_id,
                                  name=template.name, kind=template.kind, value=template.value,
                                  min_spend=template.min_spend, valid_days=template.valid_days,
                                  per_member_limit=template.per_member_limit,
                                  store_ids=list(template.store_ids) or None,
                                  created_at=template.created_at.isoformat())
        try:
            item.save(condition=CouponTemplateItem.pk.does_not_exist())
        except PynamoDBException as exc:
            raise Conflict("a template with this id exists") from exc

    def _template_item(self, template_id: str) -> CouponTemplateItem | None:
        try:
            return CouponTemplateItem.get(*template_key(template_id), consistent_read=True)
        except CouponTemplateItem.DoesNotExist:
            return None

    def template(self, template_id: str) -> CouponTemplate | None:
        item = self._template_item(template_id)
        return _template(item) if item else None

    def templates(self) -> list[CouponTemplate]:
        items = CouponTemplateItem.query("COUPONTEMPLATES", CouponTemplateItem.sk.startswith("TEMPLATE#"))
        return [_template(item) for item in items]

    def template_counts(self, template_id: str) -> tuple[CouponTemplate, dict[str, Any]] | None:
        item = self._template_item(template_id)
        if item is None:
            return None
        return _template(item), {"issued": int(item.issued or 0), "redeemed": int(item.redeemed or 0),
                                 "revenue": item.revenue or Decimal(0)}

    def campaign_counts(self, campaign_id: str) -> dict[str, Any]:
        try:
            item = CampaignCouponsItem.get(*campaign_key(campaign_id), consistent_read=True)
        except CampaignCouponsItem.DoesNotExist:
            return {"issued": 0, "redeemed": 0, "revenue": Decimal(0)}
        return {"issued": int(item.issued or 0), "redeemed": int(item.redeemed or 0),
                "revenue": item.revenue or Decimal(0)}

    # ------------------------------------------------------------------ coupons
    def coupon(self, code: str) -> Coupon | None:
        try:
            return _coupon(CouponItem.get(*coupon_key(code), consistent_read=True))
        except CouponItem.DoesNotExist:
            return None

    def issued_for(self, key: str) -> Coupon | None:
        """The coupon a keyed issue gave before, if any."""
        try:
            marker = CouponIssueItem.get(*issue_key(key), consistent_read=True)
        except CouponIssueItem.DoesNotExist:
            return None
        return self.coupon(marker.code)

    def wallet(self, member_id: str) -> list[Coupon]:
        """The member's coupons, newest first."""
        items = WalletItem.query(f"MEMBER#{member_id}", WalletItem.sk.startswith("COUPON#"),
                                 scan_index_forward=False, limit=WALLET_LIMIT)
        return [_coupon(item) for item in items]

    def issue(self, coupon: Coupon, per_member_limit: int, staff_cap: tuple[str, str, int] | None = None,
              key: str | None = None) -> Coupon:
        """Write the coupon, its wallet entry and every counter in one transaction, or nothing.

        ``staff_cap`` is (staff id, month, cap). A key already used answers the coupon it gave. Raises
        :class:`NotFound` for a member who is not live, :class:`Conflict` for a limit or cap reached,
        :class:`CodeTaken` for a code drawn twice."""
        return _retrying(lambda: self._issue(coupon, per_member_limit, staff_cap, key))

    def _issue(self, coupon: Coupon, per_member_limit: int, staff_cap: tuple[str, str, int] | None,
               key: str | None) -> Coupon:
        issued = _epoch(coupon.issued_at)
        tx = _Transaction()
        tx.check("member", MemberProfileItem, (f"MEMBER#{coupon.member_id}", "PROFILE"),
                 MemberProfileItem.status == "live")
        tx.put("coupon", CouponItem(*coupon_key(coupon.code), **_fields(coupon)),
               CouponItem.pk.does_not_exist())
        tx.put("wallet", WalletItem(*wallet_key(coupon.member_id, issued, coupon.code), **_fields(coupon)))
        if key is not None:
            tx.put("key", CouponIssueItem(*issue_key(key), code=coupon.code), CouponIssueItem.pk.does_not_exist())
        tx.update("template", CouponTemplateItem(*template_key(coupon.template_id)),
                  [CouponTemplateItem.issued.add(1)], CouponTemplateItem.pk.exists())
        tx.update("limit", CouponLimitItem(*limit_key(coupon.member_id, coupon.template_id)),
                  [CouponLimitItem.issued.add(1)],
                  CouponLimitItem.issued.does_not_exist() | (CouponLimitItem.issued < per_member_limit))
        if staff_cap is not None:
            staff_id, month, cap = staff_cap
            tx.update("staff", StaffCouponsItem(*staff_month_key(staff_id, month)),
                      [StaffCouponsItem.staff_id.set(staff_id), StaffCouponsItem.month.set(month),
                       StaffCouponsItem.given.add(1)],
                      StaffCouponsItem.given.does_not_exist() | (StaffCouponsItem.given < cap))
        if coupon.campaign_id:
            tx.update("campaign", CampaignCouponsItem(*campaign_key(coupon.campaign_id)),
                      [CampaignCouponsItem.issued.add(1)])
        failed = tx.commit()
        if failed is None:
            return coupon
        if "key" in failed and key is not None:
            earlier = self.issued_for(key)
            if earlier is not None:
                return earlier
        if "member" in failed:
            raise NotFound("no such member")
        if "template" in failed:
            raise NotFound("no such coupon template")
        if "limit" in failed:
            raise Conflict(f"this member already has {per_member_limit} of this coupon, the most a member may get")
        if "staff" in failed:
            raise Conflict(f"you have given this month's {staff_cap[2] if staff_cap else 0} coupons")
        if "coupon" in failed:
            raise CodeTaken
        raise Conflict("the coupon changed concurrently; try again")

    def redeem(self, coupon: Coupon, redemption: Redemption) -> bool:
        """Mark the coupon used by the order, with its wallet entry and counters, in one transaction.

        False when the coupon was no longer available and unexpired at that moment (another redemption
        won, or it expired): read it again to say which."""
        return bool(_retrying(lambda: self._redeem(coupon, redemption)))

    def _redeem(self, coupon: Coupon, redemption: Redemption) -> bool:
        at = _epoch(redemption.at)
        revenue = redemption.amount or Decimal(0)
        sets = [_CouponFields.status.set("redeemed"), _CouponFields.order_ref.set(redemption.order_ref),
                _CouponFields.redeemed_at.set(at)]
        if redemption.store_id:
            sets.append(_CouponFields.redeemed_store_id.set(redemption.store_id))
        if redemption.amount is not None:
            sets.append(_CouponFields.amount.set(redemption.amount))
        tx = _Transaction()
        tx.update("coupon", CouponItem(*coupon_key(coupon.code)), sets,
                  (CouponItem.status == "available") & (CouponItem.expires_at > at))
        tx.update("wallet", WalletItem(*wallet_key(coupon.member_id, _epoch(coupon.issued_at), coupon.code)), sets)
        tx.update("template", CouponTemplateItem(*template_key(coupon.template_id)),
                  [CouponTemplateItem.redeemed.add(1), CouponTemplateItem.revenue.add(revenue)])
        if coupon.campaign_id:
            tx.update("campaign", CampaignCouponsItem(*campaign_key(coupon.campaign_id)),
                      [CampaignCouponsItem.redeemed.add(1), CampaignCouponsItem.revenue.add(revenue)])
        failed = tx.commit()
        if failed is None:
            return True
        if "coupon" in failed:
            return False
        raise Conflict("the coupon changed concurrently; try again")
