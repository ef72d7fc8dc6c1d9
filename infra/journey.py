"""The sample journey of docs/design.md, played over HTTP against a running local stack.

Each step uses the public contracts only (signed webhooks, the admin API), so it shows a
newcomer what the product does and proves the local run end to end. It grows with every
capability that lands.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import requests

from omo2c.sources.signatures import omo_signature

TAIPEI = ZoneInfo("Asia/Taipei")

EVENTS = Path(__file__).resolve().parents[1] / "events"
PHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
         "Mobile/15E148 Safari Line/14.19.0")  # LINE's in-app browser: a person, not a link preview


class JourneyFailed(RuntimeError):
    pass


def poll(probe: Callable[[], Any], timeout: float, every: float = 0.2) -> Any:
    """The first truthy answer of ``probe`` within ``timeout`` seconds, else None."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = probe()
        if result:
            return result
        time.sleep(every)
    return None


class Journey:
    def __init__(self, base_url: str, admin_token: str, say: Callable[[str], None] = print) -> None:
        self.base = base_url.rstrip("/")
        self.admin = {"Authorization": f"Bearer {admin_token}"}
        self.say = say
        self.http = requests.Session()
        self.pos_sales: list[tuple[str | None, str, Decimal]] = []  # (store, month in Taipei, net) as posted

    def post_signed(self, source: str, event: dict[str, Any]) -> requests.Response:
        response = self._post_signed(source, event)
        if source == "pos" and response.status_code == 202 and event.get("type") == "order.created":
            order = event["order"]
            month = datetime.fromisoformat(event["occurred_at"]).astimezone(TAIPEI).strftime("%Y-%m")
            self.pos_sales.append((event.get("store_id"), month, Decimal(str(order["total"])) - Decimal(
                str(order.get("shipping") or 0))))
        return response

    def _post_signed(self, source: str, event: dict[str, Any]) -> requests.Response:
        body = json.dumps(event, ensure_ascii=False).encode()
        ts = str(int(time.time()))
        secret = os.environ.get(f"OMO_SOURCE_SECRET_{source.upper()}", f"local-{source}-secret")
        headers = {"Content-Type": "application/json", "X-Omo-Timestamp": ts,
                   "X-Omo-Signature": omo_signature(secret, ts, body)}
        return self.http.post(f"{self.base}/webhooks/{source}", data=body, headers=headers, timeout=10)

    def admin_get(self, path: str, **params: str) -> requests.Response:
        return self.http.get(f"{self.base}{path}", params=params, headers=self.admin, timeout=10)

    def wait_for(self, what: str, probe: Callable[[], Any], timeout: float = 20.0) -> Any:
        result = poll(probe, timeout)
        if not result:
            raise JourneyFailed(f"timed out waiting for {what}")
        return result

    def step_pos_sale(self) -> dict[str, Any]:
        event = json.loads((EVENTS / "canonical" / "pos-order-created.json").read_text())
        event["event_id"] = f"journey-{int(time.time())}"
        phone = event["customer"]["phone"]
        response = self.post_signed("pos", event)
        if response.status_code != 202:
            raise JourneyFailed(f"POS webhook answered {response.status_code}: {response.text}")
        self.say(f"1. POS order.created accepted: {response.json()}")

        def counted() -> dict[str, Any] | None:
            found = self.admin_get("/members", phone=phone)
            return found.json() if found.status_code == 200 and found.json()["orders"]["count"] >= 1 else None

        member = self.wait_for("the POS member", counted)
        self.say(f"   member {member['member_id']} ({member['name']}): {member['orders']['count']} order(s), "
                 f"net {member['orders']['net_spent']} TWD, NAPL {member['napl']}")
        return member


    def admin_send(self, method: str, path: str, body: dict[str, Any] | None = None,
                   accept: str = "application/json") -> Any:
        response = self.http.request(method, f"{self.base}{path}", json=body, timeout=10,
                                     headers={**self.admin, "Accept": accept})
        if response.status_code >= 400:
            raise JourneyFailed(f"{method} {path} answered {response.status_code}: {response.text[:200]}")
        return response.json() if accept == "application/json" else response.content

    def line(self, user_id: str, text: str | None = None, kind: str = "message") -> None:
        event: dict[str, Any] = {"type": kind, "mode": "active", "timestamp": int(time.time() * 1000),
                                 "source": {"type": "user", "userId": user_id},
                                 "webhookEventId": uuid.uuid4().hex.upper()[:26], "replyToken": uuid.uuid4().hex,
                                 "deliveryContext": {"isRedelivery": False}}
        if kind == "message":
            event["message"] = {"type": "text", "id": str(int(time.time() * 1000)), "text": text}
        body = json.dumps({"destination": "Ujourney", "events": [event]}, ensure_ascii=False).encode()
        secret = os.environ.get("LINE_CHANNEL_SECRET", "local-line-channel-secret")
        signature = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
        response = self.http.post(f"{self.base}/line/webhook", data=body, timeout=10,
                                  headers={"X-Line-Signature": signature, "Content-Type": "application/json"})
        if response.status_code != 200:
            raise JourneyFailed(f"LINE webhook answered {response.status_code}: {response.text[:200]}")

    def last_reply(self, user_id: str) -> str:
        calls = self.http.get(f"{self.base}/_local/outbox", timeout=10).json()["line"]
        return next((c["messages"][0].get("text", "") for c in reversed(calls) if c["endpoint"] == "reply"), "")

    def step_line_binding(self, phone: str) -> dict[str, Any]:
        self.admin_send("PUT", "/stores/ST01", {"name": "信義旗艦店", "phone": "(02) 2722-0000"})
        self.admin_send("PUT", "/staff/S001", {"name": "王小明", "store_id": "ST01"})
        link = self.admin_send("GET", "/staff/S001/qr")
        self.say(f"2. Staff S001's QR code opens {link['url'][:60]}…")
        member = self.connect_line(phone, link["message"], say=self.say)
        self.say(f"   one member now: {member['member_id']} with {member['orders']['count']} POS order(s), "
                 f"bound to {member['binding']['staff_id']}")
        return member

    def connect_line(self, phone: str, qr_message: str, say: Callable[[str], None] | None = None) -> dict[str, Any]:
        """A customer follows, scans the staff QR code and proves their phone with the SMS code."""
        quiet: Callable[[str], None] = say or (lambda _: None)
        user_id = "U" + uuid.uuid4().hex
        self.line(user_id, kind="follow")
        self.line(user_id, qr_message)
        quiet(f"   customer scanned it in LINE; reply: {self.last_reply(user_id)}")
        self.line(user_id, phone)
        quiet(f"3. customer typed their phone; reply: {self.last_reply(user_id)}")
        digits = re.sub(r"\D", "", phone)[-9:]
        sms = self.wait_for("the one-time code SMS", lambda: [
            m for m in self.http.get(f"{self.base}/_local/outbox", timeout=10).json()["sms"]
            if m["phone_number"].endswith(digits) and "驗證碼" in m["message"]])
        code = re.search(r"\d{6}", sms[-1]["message"]).group(0)
        self.line(user_id, code)
        quiet(f"   customer entered the code; reply: {self.last_reply(user_id)}")
        return self.admin_get("/members", line_user_id=user_id).json()

    def step_campaign(self) -> dict[str, Any]:
        """Lapsed customers hear from their staff member: LINE where they follow, SMS where they consented."""
        seventy_days_ago = (datetime.now(tz=UTC) - timedelta(days=70)).isoformat()
        customers = {"lin": ("0910-222-333", "林先生"), "chen": ("0920-333-444", "陳小姐"),
                     "wu": ("0930-444-555", "吳太太")}
        for key, (phone, name) in customers.items():
            event = json.loads((EVENTS / "canonical" / "pos-order-created.json").read_text())
            event.update(event_id=f"journey-lapsed-{key}-{uuid.uuid4().hex[:6]}", occurred_at=seventy_days_ago)
            event["customer"] = {"phone": phone, "name": name, "consent": {"sms": key == "chen"}}
            event["order"]["order_id"] = f"ST01-{key}-{uuid.uuid4().hex[:4]}"
            if self.post_signed("pos", event).status_code != 202:
                raise JourneyFailed("lapsed POS order refused")
        link = self.admin_send("GET", "/staff/S001/qr")
        lin = self.connect_line(customers["lin"][0], link["message"])
        wu = self.connect_line(customers["wu"][0], link["message"])
        wu_user = next(i["value"] for i in wu["identities"] if i["kind"] == "line_user_id")
        self.line(wu_user, "取消訂閱")
        campaign = self.admin_send("POST", "/campaigns", {
            "name": "60 天未購回流", "segment": {"days_since_last_order": {"min": 60}},
            "message": "{name} 您好，我是{staff_name}，好久不見！本週來店出示此訊息享 9 折。",
            "channels": ["line", "sms"], "schedule": "cron(0 11 * * ? *)", "quiet_hours": [],
            "conversion_days": 7})
        preview = self.admin_send("POST", f"/campaigns/{campaign['campaign_id']}/run", {"dry_run": True})
        self.say(f"5. campaign '60 天未購回流' preview: {preview['members_per_channel']} "
                 f"skipped {preview['skipped']}, SMS cost ≈ US${preview['estimated_sms_cost_usd']}")
        self.admin_send("POST", f"/campaigns/{campaign['campaign_id']}/run", {})
        lin_user = next(i["value"] for i in lin["identities"] if i["kind"] == "line_user_id")

        def delivered() -> dict[str, Any] | None:
            outbox = self.http.get(f"{self.base}/_local/outbox", timeout=10).json()
            line = [c for c in outbox["line"] if c["endpoint"] in ("push", "multicast")
                    and "好久不見" in c["messages"][0].get("text", "")]
            sms = [m for m in outbox["sms"] if "好久不見" in m["message"]]
            return {"line": line, "sms": sms} if line and sms else None

        sent = self.wait_for("the campaign messages", delivered)
        self.say(f"   LINE to {lin['name']}: {sent['line'][0]['messages'][0]['text']}")
        self.say(f"   SMS to {sent['sms'][0]['phone_number'][:-3]}***: {sent['sms'][0]['message']}")
        self.say("   吳太太 opted out in LINE and got nothing")
        return {"campaign": campaign, "sent": sent, "lin_user": lin_user, "opted_out_user": wu_user}

    def step_online_order(self, email: str, phone: str) -> dict[str, Any]:
        order = json.loads((EVENTS / "shopify" / "orders-create.json").read_text())
        now = datetime.now(tz=UTC).isoformat()
        order.update(email=email, contact_email=email, phone=phone, currency="TWD", updated_at=now, created_at=now,
                     processed_at=now)
        webhook_id = self.post_shopify("orders/create", order)
        month = datetime.now(tz=UTC).strftime("%Y-%m")

        def credited() -> dict[str, Any] | None:
            found = self.admin_send("GET", f"/staff/S001/statement?month={month}")
            return found if any(line["source"] == "shopify" for line in found["lines"]) else None

        statement = self.wait_for("the staff statement line", credited)
        line = next(line for line in statement["lines"] if line["source"] == "shopify")
        self.say(f"4. web shop order credited to S001 by {line['rule']}: {line['amount']} TWD ({line['status']})")
        refund = json.loads((EVENTS / "shopify" / "refunds-create.json").read_text())
        refund["processed_at"] = datetime.now(tz=UTC).isoformat()
        self.post_shopify("refunds/create", refund)
        refunded = self.wait_for("the refund line", lambda: (
            lambda doc: doc if len([x for x in doc["lines"] if x["source"] == "shopify"]) > 1 else None)(
            self.admin_send("GET", f"/staff/S001/statement?month={month}")))
        self.say(f"   refund reversed part of it: statement total {refunded['totals']['total']} TWD")
        self.post_shopify("orders/create", order, webhook_id=webhook_id)
        time.sleep(2)
        again = self.admin_send("GET", f"/staff/S001/statement?month={month}")
        if again["lines"] != refunded["lines"]:
            raise JourneyFailed("a redelivered Shopify webhook changed the statement")
        self.say("   Shopify redelivered the order webhook: accepted, nothing changed")
        return again

    def step_staff_chat(self, member: dict[str, Any]) -> dict[str, Any]:
        """S001 links their own LINE, signs in as the console does, answers the customer and shares a product;
        the customer's web order through that link is credited to S001, and S001's numbers show it."""
        code = self.admin_send("POST", "/staff/S001/link-code")
        staff_user = "U" + uuid.uuid4().hex
        self.line(staff_user, code["message"])
        self.say(f"6. S001 sent the link code from their own LINE; reply: {self.last_reply(staff_user)}")
        token = self.http.post(f"{self.base}/_local/line/id-token", json={"sub": staff_user}, timeout=10).json()
        staff = {"Authorization": f"Bearer {token['id_token']}"}
        customer = next(i["value"] for i in member["identities"] if i["kind"] == "line_user_id")
        self.line(customer, "請問這件羊毛圍巾還有灰色嗎？")
        told = self.wait_for("the staff notification", lambda: [
            c for c in self.http.get(f"{self.base}/_local/outbox", timeout=10).json()["line"]
            if c["endpoint"] == "push" and c["to"] == staff_user])
        self.say(f"   the customer wrote; S001 was told in LINE: {told[0]['messages'][0]['text'][:40]}…")
        me = self._me("GET", "/me", staff)
        mine = self._me("GET", "/me/customers", staff)["customers"]
        self.say(f"   {me['name']} signed in with LINE ({me['role']}, {me['store_name']}): {len(mine)} customer(s), "
                 f"{sum(c['unread'] for c in mine)} unread")
        path = f"/me/conversations/{member['member_id']}/messages"
        self._me("POST", path, staff, {"text": "有的！灰色還有兩條，幫您保留到週末。"})
        card = self._me("POST", path, staff, {"product": {
            "url": "https://shop.example.com/products/wool-scarf?color=grey", "title": "羊毛圍巾 灰色",
            "image_url": "https://shop.example.com/images/wool-scarf-grey.jpg", "price": 1280}})
        short_url = card["product"]["short_url"]
        self.say(f"   S001 replied in their own name and sent the scarf as a card linking to {short_url}")
        landing = self.http.get(short_url, allow_redirects=False, timeout=10, headers={"User-Agent": PHONE}).headers[
            "Location"]
        order = json.loads((EVENTS / "shopify" / "orders-create.json").read_text())
        now = datetime.now(tz=UTC).isoformat()
        order.update(id=int(time.time() * 1000), name=f"#{uuid.uuid4().hex[:6]}", email=None, contact_email=None,
                     phone=None, customer=None, currency="TWD", created_at=now, updated_at=now, processed_at=now,
                     landing_site=landing.removeprefix("https://shop.example.com"))
        month = datetime.now(tz=UTC).strftime("%Y-%m")
        before = self._me("GET", f"/me/kpis?month={month}", staff)["credited_orders"]
        self.post_shopify("orders/create", order)

        def counted() -> dict[str, Any] | None:
            kpis = self._me("GET", f"/me/kpis?month={month}", staff)
            return kpis if kpis["clicks"] >= 1 and kpis["credited_orders"] > before else None

        kpis = self.wait_for("the click and the credit in S001's numbers", counted)
        self.say(f"   the customer opened the link and ordered online: S001's month shows {kpis['clicks']} click(s), "
                 f"{kpis['credited_orders']} credited orders, {kpis['messages_answered']} answers")
        return {"staff_user": staff_user, "kpis": kpis, "short_url": short_url, "landing": landing}

    def _me(self, method: str, path: str, staff: dict[str, str], body: dict[str, Any] | None = None) -> Any:
        response = self.http.request(method, f"{self.base}{path}", json=body, headers=staff, timeout=10)
        if response.status_code >= 400:
            raise JourneyFailed(f"{method} {path} answered {response.status_code}: {response.text[:200]}")
        return response.json()

    def post_shopify(self, topic: str, payload: dict[str, Any], webhook_id: str | None = None) -> str:
        webhook_id = webhook_id or uuid.uuid4().hex
        body = json.dumps(payload).encode()
        secret = os.environ.get("OMO_SOURCE_SECRET_SHOPIFY", "local-shopify-secret")
        signature = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
        response = self.http.post(f"{self.base}/webhooks/shopify", data=body, timeout=10, headers={
            "Content-Type": "application/json", "X-Shopify-Topic": topic, "X-Shopify-Hmac-Sha256": signature,
            "X-Shopify-Webhook-Id": webhook_id})
        if response.status_code != 202:
            raise JourneyFailed(f"Shopify {topic} answered {response.status_code}: {response.text[:200]}")
        return webhook_id


    def step_email_campaign(self) -> dict[str, Any]:
        """An e-mail campaign reaches a customer who said yes to e-mail; one click unsubscribes; the next run skips."""
        event = json.loads((EVENTS / "canonical" / "pos-order-created.json").read_text())
        event.update(event_id=f"journey-email-{uuid.uuid4().hex[:6]}", occurred_at=datetime.now(tz=UTC).isoformat())
        event["customer"] = {"phone": "0940-555-666", "email": "chang@example.com", "name": "張小姐",
                             "consent": {"sms": False, "email": True}}
        event["order"].update(order_id=f"ST01-email-{uuid.uuid4().hex[:4]}", total=2000, discount=0)
        if self.post_signed("pos", event).status_code != 202:
            raise JourneyFailed("the e-mail customer's POS order was refused")
        self.wait_for("the e-mail customer", lambda: self.admin_get("/members", email="chang@example.com").ok)
        campaign = self.admin_send("POST", "/campaigns", {
            "name": "冬季新品 e-mail", "message": "{name} 您好，冬季新品上市了：https://shop.example/winter",
            "email_subject": "{name}，冬季新品上市", "channels": ["email"], "schedule": "cron(0 10 ? * MON *)",
            "quiet_hours": [], "segment": {"order_count": {"min": 1}}})
        cid = campaign["campaign_id"]
        self.admin_send("POST", f"/campaigns/{cid}/run", {})

        def mailed() -> dict[str, Any] | None:
            outbox = self.http.get(f"{self.base}/_local/outbox", timeout=10).json()
            return next((m for m in outbox.get("email", []) if "冬季新品" in m["subject"]), None)

        mail = self.wait_for("the campaign e-mail", mailed)
        header = mail["headers"]["List-Unsubscribe"]
        one_click = re.search(r"<(https?://[^>]+/u/[^>]+)>", header).group(1)
        self.say(f"7. e-mail to {mail['to'][0][:2]}***: 「{mail['subject']}」, List-Unsubscribe {header[:40]}…")
        answer = self.http.post(one_click, data="List-Unsubscribe=One-Click", timeout=10,
                                headers={"Content-Type": "application/x-www-form-urlencoded"})
        member = self.admin_get("/members", email="chang@example.com").json()
        if answer.status_code != 200 or member["consent"].get("email") is not False:
            raise JourneyFailed(f"one-click unsubscribe answered {answer.status_code}; consent {member['consent']}")
        self.say("   one click (RFC 8058) turned e-mail off at once")
        self.admin_send("POST", f"/campaigns/{cid}/run", {})

        def skipped() -> dict[str, Any] | None:
            report = self.admin_send("GET", f"/campaigns/{cid}/report")
            runs = report["runs"]
            return report if len(runs) == 2 and runs[0]["sent"] and runs[1]["skipped"].get("unsubscribed") else None

        report = self.wait_for("the second run's skip", skipped)
        first, second = report["runs"]
        self.say(f"   report: first run sent {first['sent']} e-mail, {first['unsubscribed']} unsubscribed; "
                 f"next run skipped {second['skipped']}")
        return {"campaign": campaign, "mail": mail, "report": report, "member": member}

    def step_dashboards(self, store_id: str = "ST01") -> dict[str, Any]:
        """The store's dashboard adds up to the POS orders the journey sold there, month by month."""
        month = datetime.now(tz=TAIPEI).strftime("%Y-%m")
        expected: dict[str, Decimal] = {}
        for store, sold_in, net in self.pos_sales:
            if store == store_id:
                expected[sold_in] = expected.get(sold_in, Decimal(0)) + net

        def caught_up() -> dict[str, Any] | None:
            kpis = self.admin_send("GET", f"/stores/{store_id}/kpis?month={month}")
            trend = {t["month"]: Decimal(t["pos"].get("TWD", "0")) for t in kpis["trend"]}
            wanted = {m: v for m, v in expected.items() if m in trend}
            return kpis if all(trend[m] == v for m, v in wanted.items()) else None

        kpis = self.wait_for("the store dashboard", caught_up)
        self.say(f"8. {store_id} in {month}: POS {kpis['sales']['pos']['amount']} in {kpis['sales']['pos']['orders']} "
                 f"order(s), EC credited {kpis['sales']['ec_credited']['amount']}, members {kpis['members']}, "
                 f"NAPL {kpis['napl']}, OMO share {kpis['omo_share']['share']}")
        return {"kpis": kpis, "expected_pos": {m: str(v) for m, v in expected.items()}}


def play(base_url: str, admin_token: str, say: Callable[[str], None] = print) -> dict[str, Any]:
    """Play every step that exists so far; raise JourneyFailed on the first step that breaks."""
    journey = Journey(base_url, admin_token, say)
    pos_member = journey.step_pos_sale()
    phone = "0933-128-765"
    member = journey.step_line_binding(phone)
    statement = journey.step_online_order("mei.lin@example.com", phone)
    campaign = journey.step_campaign()
    chat = journey.step_staff_chat(member)
    email = journey.step_email_campaign()
    dashboards = journey.step_dashboards()
    say("Journey done.")
    return {"pos_member": pos_member, "member": member, "statement": statement, "campaign": campaign, "chat": chat,
            "email": email, "dashboards": dashboards}
