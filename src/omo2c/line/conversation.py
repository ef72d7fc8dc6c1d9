"""What a LINE event means for the member behind it: follow, bind, prove a phone, opt out, write to staff,
show the member card; and, from a staff member's own LINE, linking it to their staff record.

Finding or creating the member, and merging it with a POS/EC member once a phone is proved,
go through the ingest resolver, so there is one kind of merge. A LINE identity is never
joined to a phone that was only typed: only a matching one-time code links them.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qs

from omo2c.binding.model import Binding, BindingPolicy, ScanOutcome, code_in, decide_scan
from omo2c.channels.line import LineMessenger, LineRejected, LineUnavailable
from omo2c.channels.sms import SmsSender
from omo2c.core.errors import Conflict
from omo2c.core.observability import metrics
from omo2c.core.privacy import mask_phone
from omo2c.events import BusEvent, MemberBound, MemberLineUnfollowed, MemberPhoneVerified, MemberUnbound
from omo2c.identity.identifiers import BlockList, Identifier, IdentifierKind, InvalidIdentifier, normalize_phone
from omo2c.identity.verification import OtpPolicy, PendingCode, code_hash, looks_like_code, matches, new_code
from omo2c.line.storage import ScanContext
from omo2c.members.model import LineStatus, Member, home_store
from omo2c.members.resolution import Resolver
from omo2c.sources.canonical import CanonicalEvent
from omo2c.staff.model import Staff, follow_departures, link_code_in

if TYPE_CHECKING:
    from omo2c.cards.service import MemberCards
    from omo2c.conversations.service import Conversations

log = logging.getLogger("omo2c.line")
MAX_ATTEMPTS = 5
CHAT_TYPES = frozenset({"sticker", "image", "location"})
UNASSIGNED_INBOX = "unassigned"


class Members(Protocol):
    def get_member(self, member_id: str) -> Member | None: ...

    def find_by_identifier(self, identifier: Identifier) -> Member | None: ...

    def bind(self, member: Member, binding: Binding | None) -> None: ...

    def touch(self, member: Member, at: datetime) -> None: ...

    def set_line(self, member: Member, line: LineStatus) -> None: ...

    def set_opt_out(self, member: Member, opted_out: bool) -> None: ...


class ScanReads(Protocol):
    def scan(self, line_user_id: str, code: str) -> ScanContext: ...


class PhoneProofs(Protocol):
    def take_code_quota(self, kind: str, value: str, hour: str, limit: int, expires_at: int) -> bool: ...

    def put_code(self, pending: PendingCode) -> None: ...

    def pending_code(self, line_user_id: str) -> PendingCode | None: ...

    def use_try(self, line_user_id: str, max_tries: int, now: int) -> PendingCode | None: ...

    def drop_code(self, pending: PendingCode) -> None: ...


class Directory(Protocol):
    def staff(self, staff_id: str) -> Staff | None: ...

    def link_code_owner(self, code: str, now: int) -> str | None: ...

    def link_line(self, staff: Staff, line_user_id: str, code: str, now: int) -> None: ...

    def staff_name(self, staff_id: str | None) -> str | None: ...

    def store_name(self, store_id: str | None) -> str | None: ...


@dataclass
class LineConversation:
    resolver: Resolver
    members: Members
    reads: ScanReads
    proofs: PhoneProofs
    directory: Directory
    messenger: LineMessenger
    sms: SmsSender
    publish: Callable[[list[BusEvent]], None]
    brand: str
    blocklist: BlockList
    opt_out_keywords: tuple[str, ...]
    opt_in_keywords: tuple[str, ...]
    otp_key: str
    conversations: Conversations | None = None
    console_link: Callable[[str, str], str] = lambda member_id, base: f"{base}/console#/customers/{member_id}"
    binding_policy: BindingPolicy = field(default_factory=BindingPolicy)
    otp_policy: OtpPolicy = field(default_factory=OtpPolicy)
    clock: Callable[[], datetime] = lambda: datetime.now(tz=UTC)
    cards: MemberCards | None = None
    card_keywords: tuple[str, ...] = ("會員卡",)

    # ------------------------------------------------------------------ entry point
    def handle(self, event: dict[str, Any], base: str = "") -> str:
        """``base`` is where this API is reached, for the console links staff are sent and the card's QR image."""
        user_id = (event.get("source") or {}).get("userId")
        kind = event.get("type")
        if not user_id:
            return "ignored: no user"
        if kind == "follow":
            return self._follow(event, user_id)
        if kind == "unfollow":
            found = self.members.find_by_identifier(Identifier(IdentifierKind.LINE_USER, user_id))
            if found:
                at = self.clock()
                status = LineStatus(user_id, False, at.isoformat())
                self._retry(found, lambda m: self.members.set_line(m, status))
                # a block soon after a campaign message is charged to it (the notify consumer decides)
                self.publish([MemberLineUnfollowed(member_id=found.member_id, line_user_id=user_id, at=at)])
            return "unfollowed"
        if kind == "postback":
            data = parse_qs(str((event.get("postback") or {}).get("data", "")))
            action = (data.get("action") or [""])[0]
            if action == "bind" and data.get("code"):
                return self._bind(event, user_id, data["code"][0])
            if action in ("optout", "optin"):
                return self._consent(event, self._member(user_id, event), action == "optout")
            if action == "member_card":
                return self._card(event, self._member(user_id, event), base)
            return "ignored: postback"
        message_type = (event.get("message") or {}).get("type")
        if kind == "message" and message_type == "text":
            return self._text(event, user_id, str(event["message"].get("text", "")), base)
        if kind == "message" and message_type in CHAT_TYPES:
            return self._chat(event, self._member(user_id, event), base)
        return f"ignored: {kind}"

    def _follow(self, event: dict[str, Any], user_id: str) -> str:
        """One resolver write: the member is found or created with its LINE status in the same transaction."""
        status = LineStatus(user_id, True, self.clock().isoformat())
        outcome = self.resolver.record(self._canonical(event, user_id, None, "follow"), line=status)
        self.publish(outcome.events)
        self._reply(event, [f"歡迎加入 {self.brand}！掃描服務人員的 QR code 即可綁定專屬服務人員；"
                            "傳送您的手機號碼，就能連結門市的會員資料。"])
        return "followed"

    def _text(self, event: dict[str, Any], user_id: str, text: str, base: str = "") -> str:
        link_code = link_code_in(text)
        if link_code:
            return self._link_staff(event, user_id, link_code)
        code = code_in(text)
        if code:
            return self._bind(event, user_id, code)
        member = self._member(user_id, event)
        if member.binding is not None:
            member = self._retry(member, lambda m: self.members.touch(m, self.clock()))
        words = text.strip().upper()
        if self.cards is not None and words in {k.upper() for k in self.card_keywords}:
            return self._card(event, member, base)
        if words in {k.upper() for k in self.opt_out_keywords}:
            return self._consent(event, member, True)
        if words in {k.upper() for k in self.opt_in_keywords}:
            return self._consent(event, member, False)
        if looks_like_code(text):
            return self._verify(event, member, user_id, text.strip())
        phone = self._phone_in(text)
        if phone:
            return self._send_code(event, user_id, phone, text)
        return self._chat(event, member, base)

    # ------------------------------------------------------------------ conversations with staff
    def _chat(self, event: dict[str, Any], member: Member, base: str) -> str:
        """Keep the message for the bound staff member (told in LINE at most once per 10 minutes), or for
        the store's shared inbox when no staff member is bound."""
        if self.conversations is None:
            return "ignored: chat"
        binding = member.binding if member.binding and member.binding.is_active(self.clock(), self.binding_policy) \
            else None
        staff_id = binding.staff_id if binding else None
        inbox = None if staff_id else (home_store(member, binding) or UNASSIGNED_INBOX)
        outcome = self.conversations.receive(event, member.member_id, inbox)
        if not outcome.stored:
            return "ignored: message kept before" if outcome.message else "ignored: message type"
        if outcome.notify and staff_id:
            self._tell_staff(staff_id, member, base, str(event.get("webhookEventId", "")))
        return "message kept"

    def _tell_staff(self, staff_id: str, member: Member, base: str, event_id: str) -> None:
        staff = self.directory.staff(staff_id)
        if staff is None or not staff.active or not staff.line_user_id:
            return
        who = member.profile_value("name") or "您的顧客"
        text = f"{who} 傳了訊息給您，請到員工後台回覆：{self.console_link(member.member_id, base)}"
        try:
            self.messenger.push(staff.line_user_id, [text], str(uuid.uuid5(uuid.NAMESPACE_URL, f"notify:{event_id}")))
        except (LineUnavailable, LineRejected) as exc:
            log.warning("telling staff %s failed: %s", staff_id, exc)

    def _link_staff(self, event: dict[str, Any], user_id: str, code: str) -> str:
        """A staff member's own LINE account becomes their sign-in; this is not a customer binding."""
        now = int(self.clock().timestamp())
        owner = self.directory.link_code_owner(code, now)
        staff = self.directory.staff(owner) if owner else None
        if staff is None or not staff.active:
            self._reply(event, ["這個員工連結碼無效或已過期，請向店長或管理者索取新的連結碼。"])
            return "unknown link code"
        try:
            self.directory.link_line(staff, user_id, code, now)
        except Conflict:
            self._reply(event, ["這個連結碼已使用過，或這個 LINE 帳號已連結到其他員工。"])
            return "link refused"
        self._reply(event, [f"已將這個 LINE 帳號連結到員工 {staff.name} 的帳號，之後可以用 LINE 登入員工後台。"
                            "（這不是顧客綁定，您的會員資料沒有改變。）"])
        return "staff linked"

    # ------------------------------------------------------------------ members
    def _member(self, user_id: str, event: dict[str, Any]) -> Member:
        found = self.members.find_by_identifier(Identifier(IdentifierKind.LINE_USER, user_id))
        return found or self._create(user_id, event)

    def _create(self, user_id: str, event: dict[str, Any]) -> Member:
        """A LINE user we have not seen follow (the follow was missed): the member is made now."""
        outcome = self.resolver.record(self._canonical(event, user_id, None, "member"))
        self.publish(outcome.events)
        member = outcome.member or self.members.find_by_identifier(Identifier(IdentifierKind.LINE_USER, user_id))
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

    def _retry(self, member: Member, change: Callable[[Member], None]) -> Member:
        """Apply a versioned change, reading the member again only when someone else changed it first."""
        for _ in range(MAX_ATTEMPTS):
            try:
                change(member)
                return member
            except Conflict:
                refreshed = self.members.get_member(member.member_id)
                if refreshed is None:
                    raise
                member = refreshed
        raise Conflict(f"member {member.member_id} kept changing")

    def _reply(self, event: dict[str, Any], texts: list[str]) -> None:
        token = event.get("replyToken")
        if not token:
            return
        try:
            self.messenger.reply(token, texts)
        except (LineUnavailable, LineRejected) as exc:
            log.warning("LINE reply failed: %s", exc)

    def _reply_messages(self, event: dict[str, Any], messages: list[dict[str, Any]]) -> None:
        token = event.get("replyToken")
        if not token:
            return
        try:
            self.messenger.reply_messages(token, messages)
        except (LineUnavailable, LineRejected) as exc:
            log.warning("LINE reply failed: %s", exc)

    # ------------------------------------------------------------------ member card
    def _card(self, event: dict[str, Any], member: Member, base: str) -> str:
        """A fresh code on every ask: the card answers the reply token, so nobody else's chat shows it."""
        if self.cards is None:
            return "ignored: member card"
        if not event.get("replyToken"):
            return "ignored: no reply token"
        self._reply_messages(event, [self.cards.card_for(member, base, self.brand)])
        return "member card"

    # ------------------------------------------------------------------ consent
    def _consent(self, event: dict[str, Any], member: Member, opted_out: bool) -> str:
        self._retry(member, lambda m: self.members.set_opt_out(m, opted_out))
        if opted_out:
            self._reply(event, ["已為您取消所有行銷訊息（LINE 與簡訊）。想再收到優惠時，輸入「訂閱」即可。"])
            return "opted out"
        self._reply(event, ["已為您恢復訂閱優惠訊息，謝謝！"])
        return "opted in"

    # ------------------------------------------------------------------ binding
    def _bind(self, event: dict[str, Any], user_id: str, code_text: str) -> str:
        """Read the sender and the code together, decide, then one write: the binding (or a touch)."""
        scan = self.reads.scan(user_id, code_text)
        member = scan.member or self._create(user_id, event)
        if scan.code is None:
            self._reply(event, ["找不到這個服務人員代碼，請向服務人員確認 QR code，謝謝！"])
            return "unknown code"
        if not scan.code.active:
            self._reply(event, ["這個 QR code 已經更新了，請向服務人員索取最新的 QR code，謝謝您！"])
            return "rotated code"
        handover = follow_departures(scan.staff, self.directory.staff)
        if not handover.found:
            self._reply(event, ["這位服務人員目前無法為您服務，請洽門市人員，謝謝！"])
            return "staff unavailable"
        target, store_id = handover.staff, handover.owner_store_id
        staff_id = target.staff_id if target else None
        for _ in range(MAX_ATTEMPTS):
            now = self.clock()
            decision = decide_scan(member.binding, staff_id or f"store:{store_id}", now, self.binding_policy)
            if decision.outcome in (ScanOutcome.ALREADY, ScanOutcome.KEPT):
                self._retry(member, lambda m: self.members.touch(m, self.clock()))
                if decision.outcome is ScanOutcome.ALREADY:
                    self._reply(event, [f"{target.name if target else '門市'} 已經是您的專屬服務人員囉！"])
                    return "already bound"
                name = self.directory.staff_name(decision.kept_staff_id) or "原服務人員"
                self._reply(event, [f"您目前的專屬服務人員是 {name}，綁定後 {self.binding_policy.cooldown_days} "
                                    "天內不會更換，謝謝您的支持！"])
                return "kept current binding"
            binding = Binding(staff_id, store_id, now, "qr", self.binding_policy.version, now)
            try:
                self.members.bind(member, binding)
            except Conflict:
                refreshed = self.members.get_member(member.member_id)
                if refreshed is None:
                    raise
                member = refreshed
                continue
            self._announce_binding(member, binding, target)
            store_name = self.directory.store_name(store_id)
            where = f"（{store_name}）" if store_name else ""
            self._reply(event, [f"已為您綁定專屬服務人員：{target.name if target else '門市'}{where}。"
                                "之後有任何需要都可以直接在這裡詢問！"])
            return "bound" if decision.outcome is ScanOutcome.BOUND else "rebound"
        raise Conflict("binding kept changing")

    def _announce_binding(self, member: Member, binding: Binding, staff: Staff | None) -> None:
        events: list[BusEvent] = []
        previous = member.binding
        if previous is not None and previous.staff_id and previous.staff_id != binding.staff_id:
            events.append(MemberUnbound(member_id=member.member_id, staff_id=previous.staff_id,
                                        store_id=previous.store_id, via=binding.via, at=binding.bound_at))
        events.append(MemberBound(
            member_id=member.member_id, staff_id=binding.staff_id, staff_name=staff.name if staff else None,
            store_id=binding.store_id, line_user_id=member.line_user_id, via=binding.via,
            bound_at=binding.bound_at, policy_version=binding.policy_version))
        self.publish(events)

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
        """Quotas are taken account first, so an account over its own never spends the phone's or the stack's."""
        if self.blocklist.blocks(raw, phone):
            self._reply(event, ["這個號碼無法用於會員驗證，請輸入您本人的手機號碼。"])
            return "blocked phone"
        policy = self.otp_policy
        if not policy.sends_to(phone):
            return self._refuse(event, "region refused", "PhoneCodesRefusedRegion",
                                "抱歉，目前無法傳送驗證碼到這個國家或地區的手機號碼。")
        now = self.clock()
        hour = now.strftime("%Y%m%d%H")
        expires = int((now + timedelta(hours=2)).timestamp())
        if not (self.proofs.take_code_quota("line", user_id, hour, policy.per_hour, expires)
                and self.proofs.take_code_quota("phone", phone, hour, policy.per_phone_hour, expires)):
            return self._refuse(event, "rate limited", "PhoneCodesRateLimited", "驗證碼發送次數過多，請一小時後再試。")
        if not self.proofs.take_code_quota("stack", "all", hour, policy.hourly_budget, expires):
            return self._refuse(event, "budget exhausted", "PhoneCodesRefusedBudget",
                                "目前申請驗證碼的人數較多，請稍後再試，謝謝您的耐心！")
        code = new_code()
        self.proofs.put_code(PendingCode(user_id, phone, code_hash(code, user_id, self.otp_key),
                                         int(now.timestamp()) + policy.ttl_seconds))
        self.sms.send(phone, f"【{self.brand}】您的會員驗證碼是 {code}，10 分鐘內有效。請勿提供給他人。",
                      transactional=True)
        metrics.add_metric(name="PhoneCodesSent", unit="Count", value=1)
        self._reply(event, [f"驗證碼已傳送到 {mask_phone(phone)}，請在 10 分鐘內輸入 6 位數驗證碼。"])
        return "code sent"

    def _refuse(self, event: dict[str, Any], outcome: str, metric: str, text: str) -> str:
        metrics.add_metric(name=metric, unit="Count", value=1)
        self._reply(event, [text])
        return outcome

    def _verify(self, event: dict[str, Any], member: Member, user_id: str, code: str) -> str:
        """The try is used up before the code is compared, so racing guesses get no more than ``max_tries``."""
        now = int(self.clock().timestamp())
        spent = self.proofs.use_try(user_id, self.otp_policy.max_tries, now)
        if spent is None:
            pending = self.proofs.pending_code(user_id)
            if pending is None:
                return "ignored: no pending code"
            if not (pending.expired(now) or pending.tries >= self.otp_policy.max_tries):
                raise Conflict("a new code arrived while this one was tried")
            self.proofs.drop_code(pending)
            self._reply(event, ["驗證碼已失效，請重新輸入手機號碼取得新的驗證碼。"])
            return "code expired"
        if not matches(spent, code, self.otp_key):
            left = self.otp_policy.tries_left(spent)
            self._reply(event, [f"驗證碼不正確，還可以再試 {left} 次。" if left > 0
                                else "錯誤次數過多，請重新輸入手機號碼取得新的驗證碼。"])
            return "wrong code"
        outcome = self.resolver.record(self._canonical(event, user_id, spent.phone, "phone"))
        self.proofs.drop_code(spent)
        self.publish(outcome.events)
        self.publish([MemberPhoneVerified(member_id=outcome.member_id or member.member_id, line_user_id=user_id,
                                          merged=outcome.merged, at=self.clock())])
        self._reply(event, ["手機號碼驗證完成！您在門市與網路商店的會員資料已經連結。"])
        return "phone verified"
