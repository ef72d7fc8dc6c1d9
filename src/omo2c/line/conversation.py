"""What a LINE event means for the member behind it: follow, bind, prove a phone, opt out.

Finding or creating the member, and merging it with a POS/EC member once a phone is proved,
go through the ingest resolver, so there is one kind of merge. A LINE identity is never
joined to a phone that was only typed: only a matching one-time code links them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import parse_qs

from omo2c.binding.model import BindingPolicy, ScanOutcome, code_in, decide_scan
from omo2c.channels.line import LineMessenger, LineRejected, LineUnavailable
from omo2c.channels.sms import SmsSender
from omo2c.core.errors import Conflict
from omo2c.core.privacy import mask_phone
from omo2c.identity.identifiers import BlockList, Identifier, IdentifierKind, InvalidIdentifier, normalize_phone
from omo2c.identity.verification import OtpPolicy, PendingCode, code_hash, looks_like_code, matches, new_code
from omo2c.members.model import Member
from omo2c.members.resolution import Resolver
from omo2c.sources.canonical import CanonicalEvent
from omo2c.staff.model import Staff, StaffCode, Store, credited_staff

log = logging.getLogger("omo2c.channels.line")
MAX_ATTEMPTS = 5


class Contacts(Protocol):
    def member(self, member_id: str) -> Member | None: ...

    def bind(self, member: Member, staff_id: str | None, store_id: str | None, via: str, policy_version: str,
             now: datetime) -> dict[str, Any]: ...

    def touch(self, member: Member, now: datetime) -> None: ...

    def set_line(self, member: Member, user_id: str, followed: bool, now: datetime) -> None: ...

    def set_opt_out(self, member: Member, opted_out: bool) -> None: ...

    def take_code_quota(self, kind: str, value: str, hour: str, limit: int, expires_at: int) -> bool: ...

    def put_code(self, pending: PendingCode) -> None: ...

    def pending_code(self, line_user_id: str) -> PendingCode | None: ...

    def count_failed_try(self, pending: PendingCode) -> None: ...

    def drop_code(self, line_user_id: str) -> None: ...


class Directory(Protocol):
    def staff(self, staff_id: str) -> Staff | None: ...

    def code(self, code: str) -> StaffCode | None: ...

    def store(self, store_id: str) -> Store | None: ...


class MemberFinder(Protocol):
    def find_by_identifier(self, identifier: Identifier) -> Member | None: ...


@dataclass
class LineConversation:
    resolver: Resolver
    finder: MemberFinder
    contacts: Contacts
    directory: Directory
    messenger: LineMessenger
    sms: SmsSender
    publish: Callable[[list[dict[str, Any]], str], None]
    brand: str
    blocklist: BlockList
    opt_out_keywords: tuple[str, ...]
    opt_in_keywords: tuple[str, ...]
    binding_policy: BindingPolicy = field(default_factory=BindingPolicy)
    otp_policy: OtpPolicy = field(default_factory=OtpPolicy)
    clock: Callable[[], datetime] = lambda: datetime.now(tz=UTC)

    # ------------------------------------------------------------------ entry point
    def handle(self, event: dict[str, Any]) -> str:
        user_id = (event.get("source") or {}).get("userId")
        kind = event.get("type")
        if not user_id:
            return "ignored: no user"
        if kind == "follow":
            member = self._member(user_id, event)
            self._retry(lambda m: self.contacts.set_line(m, user_id, True, self.clock()), member.member_id)
            self._reply(event, [f"歡迎加入 {self.brand}！掃描服務人員的 QR code 即可綁定專屬服務人員；"
                                "傳送您的手機號碼，就能連結門市的會員資料。"])
            return "followed"
        if kind == "unfollow":
            found = self.finder.find_by_identifier(Identifier(IdentifierKind.LINE_USER, user_id))
            if found:
                self._retry(lambda m: self.contacts.set_line(m, user_id, False, self.clock()), found.member_id)
            return "unfollowed"
        if kind == "postback":
            data = parse_qs(str((event.get("postback") or {}).get("data", "")))
            action = (data.get("action") or [""])[0]
            member = self._member(user_id, event)
            if action == "bind" and data.get("code"):
                return self._bind(event, member, data["code"][0])
            if action in ("optout", "optin"):
                return self._consent(event, member, action == "optout")
            return "ignored: postback"
        if kind == "message" and (event.get("message") or {}).get("type") == "text":
            return self._text(event, user_id, str(event["message"].get("text", "")))
        return f"ignored: {kind}"

    def _text(self, event: dict[str, Any], user_id: str, text: str) -> str:
        member = self._member(user_id, event)
        if member.binding:
            self._retry(lambda m: self.contacts.touch(m, self.clock()), member.member_id)
        words = text.strip().upper()
        if words in {k.upper() for k in self.opt_out_keywords}:
            return self._consent(event, member, True)
        if words in {k.upper() for k in self.opt_in_keywords}:
            return self._consent(event, member, False)
        code = code_in(text)
        if code:
            return self._bind(event, member, code)
        if looks_like_code(text):
            return self._verify(event, member, user_id, text.strip())
        phone = self._phone_in(text)
        if phone:
            return self._send_code(event, user_id, phone, text)
        return "ignored: chat"

    # ------------------------------------------------------------------ members
    def _member(self, user_id: str, event: dict[str, Any]) -> Member:
        found = self.finder.find_by_identifier(Identifier(IdentifierKind.LINE_USER, user_id))
        if found:
            return found
        outcome = self.resolver.record(self._canonical(event, user_id, None, "member"))
        self.publish(outcome.events, "omo2c.ingest")
        member = self.finder.find_by_identifier(Identifier(IdentifierKind.LINE_USER, user_id))
        if member is None:
            raise Conflict("the LINE member is not readable yet")
        return member

    def _canonical(self, event: dict[str, Any], user_id: str, phone: str | None, suffix: str) -> CanonicalEvent:
        at = datetime.fromtimestamp(int(event.get("timestamp") or self.clock().timestamp() * 1000) / 1000, tz=UTC)
        event_id = str(event.get("webhookEventId") or f"{user_id}-{int(at.timestamp() * 1000)}")
        customer: dict[str, Any] = {"line_user_id": user_id}
        if phone:
            customer["phone"] = phone
        return CanonicalEvent.model_validate({
            "event_id": f"line-{event_id}-{suffix}"[:128], "type": "member.upserted", "occurred_at": at.isoformat(),
            "channel": "line", "source": "line", "customer": customer})

    def _retry(self, change: Callable[[Member], None], member_id: str) -> Member:
        for _ in range(MAX_ATTEMPTS):
            member = self.contacts.member(member_id)
            if member is None:
                raise Conflict("member vanished")
            try:
                change(member)
                return member
            except Conflict:
                continue
        raise Conflict(f"member {member_id} kept changing")

    def _reply(self, event: dict[str, Any], texts: list[str]) -> None:
        token = event.get("replyToken")
        if not token:
            return
        try:
            self.messenger.reply(token, texts)
        except (LineUnavailable, LineRejected) as exc:
            log.warning("LINE reply failed: %s", exc)

    # ------------------------------------------------------------------ consent
    def _consent(self, event: dict[str, Any], member: Member, opted_out: bool) -> str:
        self._retry(lambda m: self.contacts.set_opt_out(m, opted_out), member.member_id)
        if opted_out:
            self._reply(event, ["已為您取消所有行銷訊息（LINE 與簡訊）。想再收到優惠時，輸入「訂閱」即可。"])
            return "opted out"
        self._reply(event, ["已為您恢復訂閱優惠訊息，謝謝！"])
        return "opted in"

    # ------------------------------------------------------------------ binding
    def _bind(self, event: dict[str, Any], member: Member, code_text: str) -> str:
        code = self.directory.code(code_text)
        if code is None:
            self._reply(event, ["找不到這個服務人員代碼，請向服務人員確認 QR code，謝謝！"])
            return "unknown code"
        if not code.active:
            self._reply(event, ["這個 QR code 已經更新了，請向服務人員索取最新的 QR code，謝謝您！"])
            return "rotated code"
        staff = self.directory.staff(code.staff_id)
        chain = {s.staff_id: s for s in [staff] if s}
        if staff and not staff.active and staff.transfer_to_staff_id:
            successor = self.directory.staff(staff.transfer_to_staff_id)
            if successor:
                chain[successor.staff_id] = successor
        target, store_id, _ = credited_staff(staff, chain)
        if target is None and store_id is None:
            self._reply(event, ["這位服務人員目前無法為您服務，請洽門市人員，謝謝！"])
            return "staff unavailable"
        staff_id = target.staff_id if target else None
        store_id = target.store_id if target else store_id
        for _ in range(MAX_ATTEMPTS):
            now = self.clock()
            decision = decide_scan(member.binding, staff_id or f"store:{store_id}", now, self.binding_policy)
            if decision.outcome is ScanOutcome.ALREADY:
                self._reply(event, [f"{target.name if target else '門市'} 已經是您的專屬服務人員囉！"])
                return "already bound"
            if decision.outcome is ScanOutcome.KEPT:
                kept = self.directory.staff(str(decision.kept_staff_id)) if decision.kept_staff_id else None
                name = kept.name if kept else "原服務人員"
                self._reply(event, [f"您目前的專屬服務人員是 {name}，綁定後 {self.binding_policy.cooldown_days} "
                                    "天內不會更換，謝謝您的支持！"])
                return "kept current binding"
            try:
                previous = member.binding or {}
                self.contacts.bind(member, staff_id, store_id, "qr", self.binding_policy.version, now)
            except Conflict:
                refreshed = self.contacts.member(member.member_id)
                if refreshed is None:
                    raise
                member = refreshed
                continue
            self._announce_binding(member, target, store_id, previous, now, "qr")
            store = self.directory.store(store_id) if store_id else None
            where = f"（{store.name}）" if store else ""
            self._reply(event, [f"已為您綁定專屬服務人員：{target.name if target else '門市'}{where}。"
                                "之後有任何需要都可以直接在這裡詢問！"])
            return "bound" if decision.outcome is ScanOutcome.BOUND else "rebound"
        raise Conflict("binding kept changing")

    def _announce_binding(self, member: Member, staff: Staff | None, store_id: str | None,
                          previous: dict[str, Any], now: datetime, via: str) -> None:
        events = []
        if previous.get("staff_id") and previous.get("staff_id") != (staff.staff_id if staff else None):
            events.append({"detail_type": "member.unbound", "detail": {
                "member_id": member.member_id, "staff_id": previous.get("staff_id"),
                "store_id": previous.get("store_id"), "at": now.isoformat(), "via": via}})
        events.append({"detail_type": "member.bound", "detail": {
            "member_id": member.member_id, "staff_id": staff.staff_id if staff else None,
            "staff_name": staff.name if staff else None, "store_id": store_id,
            "line_user_id": member.line.get("user_id") or next(
                (i.value for i in member.identifiers if i.kind is IdentifierKind.LINE_USER), None),
            "via": via, "bound_at": now.isoformat(), "policy_version": self.binding_policy.version}})
        self.publish(events, "omo2c.bind")

    # ------------------------------------------------------------------ phone proof
    def _phone_in(self, text: str) -> str | None:
        stripped = text.strip()
        if not stripped or len(stripped) > 24 or any(ch.isalpha() for ch in stripped):
            return None
        try:
            return normalize_phone(stripped)
        except InvalidIdentifier:
            return None

    def _send_code(self, event: dict[str, Any], user_id: str, phone: str, raw: str) -> str:
        if self.blocklist.blocks(raw, phone):
            self._reply(event, ["這個號碼無法用於會員驗證，請輸入您本人的手機號碼。"])
            return "blocked phone"
        now = self.clock()
        hour = now.strftime("%Y%m%d%H")
        expires = int((now + timedelta(hours=2)).timestamp())
        limit = self.otp_policy.per_hour
        if not (self.contacts.take_code_quota("line", user_id, hour, limit, expires)
                and self.contacts.take_code_quota("phone", phone, hour, limit, expires)):
            self._reply(event, ["驗證碼發送次數過多，請一小時後再試。"])
            return "rate limited"
        code = new_code()
        self.contacts.put_code(PendingCode(user_id, phone, code_hash(code, user_id),
                                           int(now.timestamp()) + self.otp_policy.ttl_seconds))
        self.sms.send(phone, f"【{self.brand}】您的會員驗證碼是 {code}，10 分鐘內有效。請勿提供給他人。",
                      transactional=True)
        self._reply(event, [f"驗證碼已傳送到 {mask_phone(phone)}，請在 10 分鐘內輸入 6 位數驗證碼。"])
        return "code sent"

    def _verify(self, event: dict[str, Any], member: Member, user_id: str, code: str) -> str:
        pending = self.contacts.pending_code(user_id)
        now = int(self.clock().timestamp())
        if pending is None:
            return "ignored: no pending code"
        if pending.expired(now) or pending.tries >= self.otp_policy.max_tries:
            self.contacts.drop_code(user_id)
            self._reply(event, ["驗證碼已失效，請重新輸入手機號碼取得新的驗證碼。"])
            return "code expired"
        if not matches(pending, code):
            self.contacts.count_failed_try(pending)
            left = self.otp_policy.max_tries - pending.tries - 1
            self._reply(event, [f"驗證碼不正確，還可以再試 {left} 次。" if left > 0
                                else "錯誤次數過多，請重新輸入手機號碼取得新的驗證碼。"])
            return "wrong code"
        self.contacts.drop_code(user_id)
        outcome = self.resolver.record(self._canonical(event, user_id, pending.phone, "phone"))
        self.publish(outcome.events, "omo2c.ingest")
        self.publish([{"detail_type": "member.phone_verified", "detail": {
            "member_id": outcome.member_id or member.member_id, "line_user_id": user_id,
            "merged": outcome.merged, "at": self.clock().isoformat()}}], "omo2c.bind")
        self._reply(event, ["手機號碼驗證完成！您在門市與網路商店的會員資料已經連結。"])
        return "phone verified"
