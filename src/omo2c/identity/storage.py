"""One-time codes that prove a phone, and their hourly quotas, in the members table."""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import DeleteError, PynamoDBException, UpdateError

from omo2c.core.dynamo import MembersTableItem, configure
from omo2c.core.settings import Settings
from omo2c.identity.verification import PendingCode


class OneTimeCodeItem(MembersTableItem):
    """pk=OTP#<LINE user id>, sk=PENDING: the code being proved (hashed), gone after ten minutes."""

    phone = UnicodeAttribute()
    code_hash = UnicodeAttribute()
    expires_at = NumberAttribute()
    tries = NumberAttribute(default=0)


class CodeRateItem(MembersTableItem):
    """pk=OTPRATE#<line|phone|stack>#<value>, sk=<hour>: codes sent in that hour to that account, phone or stack."""

    count = NumberAttribute(default=0)
    expires_at = NumberAttribute()


class PhoneProofs:
    """Pending codes and quotas; every change is conditional, so concurrent requests and guesses cannot over-count."""

    def __init__(self, settings: Settings) -> None:
        configure(settings, (OneTimeCodeItem, CodeRateItem))

    def take_code_quota(self, kind: str, value: str, hour: str, limit: int, expires_at: int) -> bool:
        try:
            CodeRateItem(f"OTPRATE#{kind}#{value}", hour).update(
                actions=[CodeRateItem.count.add(1), CodeRateItem.expires_at.set(expires_at)],
                condition=CodeRateItem.count.does_not_exist() | (CodeRateItem.count < limit))
        except UpdateError as exc:
            if not _refused(exc):
                raise
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
        return _pending(line_user_id, item)

    def use_try(self, line_user_id: str, max_tries: int, now: int) -> PendingCode | None:
        """Spend a try before the guess is compared, only while the code is live and has tries left: however
        many guesses race, at most ``max_tries`` are ever compared. None when no try was left to spend."""
        item = OneTimeCodeItem(f"OTP#{line_user_id}", "PENDING")
        try:
            item.update(actions=[OneTimeCodeItem.tries.add(1)],
                        condition=OneTimeCodeItem.pk.exists() & (OneTimeCodeItem.tries < max_tries)
                        & (OneTimeCodeItem.expires_at > now))
        except UpdateError as exc:
            if not _refused(exc):
                raise
            return None
        return _pending(line_user_id, item)

    def drop_code(self, pending: PendingCode) -> None:
        """Only that code: one requested since then stays."""
        try:
            OneTimeCodeItem(f"OTP#{pending.line_user_id}", "PENDING").delete(
                condition=OneTimeCodeItem.code_hash == pending.code_hash)
        except DeleteError as exc:
            if not _refused(exc):
                raise


def _pending(line_user_id: str, item: OneTimeCodeItem) -> PendingCode:
    return PendingCode(line_user_id, item.phone, item.code_hash, int(item.expires_at), int(item.tries))


def _refused(exc: PynamoDBException) -> bool:
    """A failed condition is an answer; throttling or an outage is an error for the caller to retry."""
    return exc.cause_response_code == "ConditionalCheckFailedException"
