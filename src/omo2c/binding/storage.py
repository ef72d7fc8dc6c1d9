"""Binding history in the members table: every change of a member's binding, kept forever.

The member's current binding lives on the member item (written by the members store in the
same transaction as its history line).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pynamodb.attributes import UnicodeAttribute

from omo2c.binding.model import Binding
from omo2c.core.dynamo import MembersTableItem


class BindingHistoryItem(MembersTableItem):
    """pk=MEMBER#<id>, sk=BINDING#<iso time>#<owner>: one binding change."""

    staff_id = UnicodeAttribute(null=True)
    store_id = UnicodeAttribute(null=True)
    previous_staff_id = UnicodeAttribute(null=True)
    via = UnicodeAttribute()
    policy_version = UnicodeAttribute()
    at = UnicodeAttribute()


def history_item(member_id: str, binding: Binding | None, previous: Binding | None, at: datetime) -> BindingHistoryItem:
    owner = (binding.staff_id or binding.store_id) if binding else "none"
    return BindingHistoryItem(
        f"MEMBER#{member_id}", f"BINDING#{at.isoformat()}#{owner}",
        staff_id=binding.staff_id if binding else None, store_id=binding.store_id if binding else None,
        previous_staff_id=previous.staff_id if previous else None, via=binding.via if binding else "unbind",
        policy_version=binding.policy_version if binding else "", at=at.isoformat())


def binding_history(member_id: str) -> list[dict[str, Any]]:
    items = BindingHistoryItem.query(f"MEMBER#{member_id}", BindingHistoryItem.sk.startswith("BINDING#"))
    return [{"staff_id": i.staff_id, "store_id": i.store_id, "previous_staff_id": i.previous_staff_id,
             "via": i.via, "policy_version": i.policy_version, "at": i.at} for i in items]
