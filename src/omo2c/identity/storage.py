"""One-time codes that prove a phone, and their hourly quotas, in the members table."""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import UpdateError

from omo2c.core.dynamo import MembersTableItem, configure
from omo2c.core.errors import Conflict
from omo2c.core.settings import Settings
from omo2c.identity.verification import PendingCode


class OneTimeCodeItem(MembersTableItem):
    """pk=OTP#<LINE user id>, sk=PENDING: the code being proved (hashed), gone after ten minutes."""

    phone = UnicodeAttribute()
    code_hash = UnicodeAttribute()
    expires_at = NumberAttribute()
    tries = NumberAttribute(default=0)


class CodeRateItem(MembersTableItem):
    """pk=OTPRATE#<line|phone>#<value>, sk=<hour>: codes sent in that hour."""

    count = NumberAttribute(default=0)
    expires_at = NumberAttribute()


class PhoneProofs:
    """Pending codes and quotas; every change is conditional, so concurrent tries cannot double-count."""

    def __init__(self, settings: Settings) -> None:
        configure(settings, (OneTimeCodeItem, CodeRateItem))

    def take_code_quota(self, kind: str, value: str, hour: str, limit: int, expires_at: int) -> bool:
        try:
            CodeRateItem(f"OTPRATE#{kind}#{value}", hour).update(
                actions=[CodeRateItem.count.add(1), CodeRateItem.expires_at.set(expires_at)],
                condition=CodeRateItem.count.does_not_exist() | (CodeRateItem.count < limit))
        except UpdateError:
            return False
        return True

    def put_code(self, pending: PendingCode) -> None:
        OneTimeCodeItem(f"OTP#{pending.line_user_id}", "PENDING", phone=pending.phone, code_hash=pending.code_hash,
                        expires_at=pending.expires_at, tries=0).save()

    def pending_code(self, line_user_id: str) -> PendingCode | None:
        try:
            item = OneTimeCodeItem.get(f"OTP#{line_user_id}", "PENDING", consistent_read=True)
        except OneTimeCodeItem.DoesNotExist:
            return None
        return PendingCode(line_user_id, item.phone, item.code_hash, int(item.expires_at), int(item.tries))

    def count_failed_try(self, pending: PendingCode) -> None:
        try:
            OneTimeCodeItem(f"OTP#{pending.line_user_id}", "PENDING").update(
                actions=[OneTimeCodeItem.tries.add(1)], condition=OneTimeCodeItem.tries == pending.tries)
        except UpdateError as exc:
            raise Conflict("a concurrent try") from exc

    def drop_code(self, line_user_id: str) -> None:
        OneTimeCodeItem(f"OTP#{line_user_id}", "PENDING").delete()
