"""Whose card a member code is, in the members table; DynamoDB's TTL drops each entry after ``expires_at``."""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import PutError

from omo2c.core.dynamo import MembersTableItem, configure
from omo2c.core.errors import Conflict
from omo2c.core.settings import Settings


class MemberCodeItem(MembersTableItem):
    """pk=MEMBERCODE#<the code's 8 lookup digits>, sk=CODE."""

    member_id = UnicodeAttribute()
    expires_at = NumberAttribute()


MODELS = (MemberCodeItem,)


def code_key(lookup: str) -> tuple[str, str]:
    return f"MEMBERCODE#{lookup}", "CODE"


class MemberCodeStore:
    def __init__(self, settings: Settings) -> None:
        configure(settings, MODELS)

    def put(self, lookup: str, member_id: str, expires_at: int) -> None:
        """Raises :class:`Conflict` when the lookup is taken (a live code drew the same digits)."""
        try:
            MemberCodeItem(*code_key(lookup), member_id=member_id, expires_at=expires_at).save(
                condition=MemberCodeItem.pk.does_not_exist())
        except PutError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                raise Conflict("this member code lookup is taken") from exc
            raise

    def owner(self, lookup: str, now: int | None = None) -> str | None:
        """The member id, unless the entry is gone or (DynamoDB deletes expired items lazily) past ``now``."""
        try:
            item = MemberCodeItem.get(*code_key(lookup), consistent_read=True)
        except MemberCodeItem.DoesNotExist:
            return None
        if now is not None and int(item.expires_at) <= now:
            return None
        return item.member_id
