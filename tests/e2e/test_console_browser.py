"""The staff console in a real browser against the local run: a staff member links their LINE account, a customer
binds and writes, and the staff member answers from the console, in their own name.

Debian's chromium, driven by Playwright (its own browser download cannot reach its host here). Each step leaves a
screenshot in tests/e2e/screenshots/ for a person to look at.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest
import requests

from infra.journey import poll
from tests.e2e.conftest import CHROMIUM
from tests.support.events import line_body, line_event, line_signature

pytestmark = pytest.mark.e2e

SHOTS = Path(__file__).resolve().parent / "screenshots"
LINE_SECRET = "local-line-channel-secret"  # the local run's default (infra/moto_stack.py)
QUESTION = "請問有貨嗎？"

if not CHROMIUM.exists():  # before any fixture, so the local run is not started for nothing
    pytest.skip("chromium is not installed (apt-get install chromium)", allow_module_level=True)


def missing(response, what: str) -> str:
    """Why a backend call failed, saying so when the route is simply not there (yet)."""
    hint = " (the route does not exist in the local run)" if response.status_code == 404 else ""
    return f"{what} answered {response.status_code}{hint}: {response.text[:300]}"


class Line:
    """Sends LINE webhook events to the local run the way LINE does: signed with the channel secret."""

    def __init__(self, stack) -> None:
        self.stack = stack

    def send(self, user_id: str, kind: str = "message", text: str | None = None) -> None:
        event = line_event(kind, user_id=user_id, event_id=uuid.uuid4().hex.upper()[:26], text=text)
        if kind == "message":
            event["message"]["id"] = str(time.time_ns())  # LINE's message ids are unique; the sample's is not
        body = line_body(event)
        response = self.stack.post("/line/webhook", data=body, headers={
            "X-Line-Signature": line_signature(body, LINE_SECRET), "Content-Type": "application/json"})
        assert response.status_code == 200, missing(response, "POST /line/webhook")


@pytest.fixture
def outbox_cleared_after(local_stack):
    """The product card is a Flex message without a ``text``: the tests after this one read the shared outbox as
    text messages, so leave it empty."""
    yield
    requests.delete(f"{local_stack.url}/_local/outbox", timeout=10)


def test_staff_answers_a_bound_customer_from_the_console(local_stack, browser, outbox_cleared_after):
    SHOTS.mkdir(exist_ok=True)
    suffix = uuid.uuid4().hex[:6].upper()
    store_id, staff_id, staff_name = f"STC{suffix}", f"SC{suffix}", "陳小華"
    staff_line, customer_line = "U" + uuid.uuid4().hex, "U" + uuid.uuid4().hex
    admin = {**local_stack.admin, "Accept": "application/json"}
    line = Line(local_stack)

    # The admin sets the staff member up and hands them a one-time link code.
    store = requests.put(f"{local_stack.url}/stores/{store_id}", json={"name": "信義店", "phone": "(02) 2722-0000"},
                         headers=admin, timeout=10)
    assert store.status_code in (200, 201), missing(store, "PUT /stores/{id}")
    staff = requests.put(f"{local_stack.url}/staff/{staff_id}", json={"name": staff_name, "store_id": store_id},
                         headers=admin, timeout=10)
    assert staff.status_code in (200, 201), missing(staff, "PUT /staff/{id}")
    code = local_stack.post(f"/staff/{staff_id}/link-code", headers=admin)
    assert code.status_code in (200, 201), missing(code, "POST /staff/{id}/link-code")
    link = code.json()
    assert {"code", "message", "url"} <= set(link)

    # The staff member sends the code from their own LINE account: that links it to the staff record.
    line.send(staff_line, "follow")
    line.send(staff_line, text=link["message"])

    # A customer scans the staff QR code (follow + the prefilled message), then asks a question.
    qr = local_stack.get(f"/staff/{staff_id}/qr", headers=admin)
    assert qr.status_code == 200, missing(qr, "GET /staff/{id}/qr")
    line.send(customer_line, "follow")
    line.send(customer_line, text=qr.json()["message"])
    line.send(customer_line, text=QUESTION)

    def bound():
        found = local_stack.get("/members", params={"line_user_id": customer_line}, headers=admin)
        member = found.json() if found.status_code == 200 else None
        return member if member and (member.get("binding") or {}).get("staff_id") == staff_id else None

    member_id = local_stack.wait_for(bound)["member_id"]

    # Before the browser: the staff member's own view over HTTP already lists the customer with the unread question
    # (listing leaves it unread; opening the conversation would mark it read).
    signed = local_stack.post("/_local/line/id-token", json={"sub": staff_line})
    assert signed.status_code == 200, missing(signed, "POST /_local/line/id-token")
    bearer = {"Authorization": f"Bearer {signed.json()['id_token']}"}

    def linked():
        me = local_stack.get("/me", headers=bearer)
        return me if me.status_code == 200 else None

    me = poll(linked, 15) or local_stack.get("/me", headers=bearer)
    unlinked = " — the LINE account that sent the link code is not linked to the staff record"
    assert me.status_code == 200, missing(me, "GET /me") + (unlinked if me.status_code == 403 else "")
    assert me.json()["staff_id"] == staff_id

    def unread():
        listed = local_stack.get("/me/customers", headers=bearer)
        assert listed.status_code == 200, missing(listed, "GET /me/customers")
        return any(c["member_id"] == member_id and c["unread"] >= 1 for c in listed.json()["customers"])

    local_stack.wait_for(unread)

    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, locale="zh-TW",
                                  timezone_id="Asia/Taipei", is_mobile=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("console", lambda msg: problems.append(f"console: {msg.text}")
            if msg.type == "error" and not msg.text.startswith("Failed to load resource") else None)  # CSP refusals
    reply, product = f"有的，幫您保留一件！({suffix})", f"熟成紅茶 150g ({suffix})"
    try:
        page.goto(f"{local_stack.url}/console")
        page.get_by_test_id("signin-user").fill(staff_line)
        page.screenshot(path=SHOTS / "01-sign-in.png")
        page.get_by_test_id("signin-submit").click()

        row = page.locator(f'[data-testid="customer-row"][data-member-id="{member_id}"]')
        row.wait_for()
        assert staff_name in page.get_by_test_id("who").inner_text()
        assert row.get_by_test_id("unread-badge").inner_text() == "1"
        page.screenshot(path=SHOTS / "02-customers.png")

        row.click()
        page.locator('[data-testid="message"][data-direction="in"]', has_text=QUESTION).wait_for()
        page.screenshot(path=SHOTS / "03-conversation.png", full_page=True)

        page.get_by_test_id("reply-box").fill(reply)
        page.get_by_test_id("reply-send").dblclick()  # a double tap
        page.locator('[data-testid="message"][data-direction="out"]', has_text=reply).wait_for()
        assert page.get_by_test_id("reply-box").input_value() == ""
        page.screenshot(path=SHOTS / "04-replied.png", full_page=True)

        page.get_by_text("傳送商品", exact=True).first.click()
        page.get_by_test_id("product-url").fill("https://shop.example.com/products/tea-01")
        page.get_by_test_id("product-title").fill(product)
        page.get_by_test_id("product-price").fill("690")
        page.screenshot(path=SHOTS / "05-product-form.png")
        page.get_by_test_id("product-send").click()
        page.locator('[data-testid="message"][data-direction="out"]', has_text=product).wait_for()
        page.screenshot(path=SHOTS / "06-product-sent.png")

        page.locator('#tabs a[data-tab="qr"]').click()
        page.wait_for_function("() => { const i = document.querySelector('[data-testid=qr-image]');"
                               " return i && i.complete && i.naturalWidth > 0; }")
        page.screenshot(path=SHOTS / "07-qr.png", full_page=True)
        page.locator('#tabs a[data-tab="links"]').click()
        page.get_by_test_id("link-row").first.wait_for()  # the product card's share link
        page.screenshot(path=SHOTS / "08-links.png", full_page=True)
        page.locator('#tabs a[data-tab="performance"]').click()
        page.get_by_test_id("kpi-bound_customers").wait_for()
        page.screenshot(path=SHOTS / "09-performance.png", full_page=True)
    except Exception:
        page.screenshot(path=SHOTS / "99-failed.png", full_page=True)
        raise
    finally:
        context.close()

    def pushed(needle: str):
        calls = local_stack.get("/_local/outbox").json()["line"]
        return [m for c in calls if c["endpoint"] == "push" and c["to"] == customer_line
                for m in c["messages"] if needle in json.dumps(m, ensure_ascii=False)]

    sent = local_stack.wait_for(lambda: pushed(reply))
    assert len(sent) == 1, "a double tap sends once"
    assert sent[0]["type"] == "text" and sent[0]["text"] == reply
    assert sent[0].get("sender", {}).get("name") == staff_name
    card = local_stack.wait_for(lambda: pushed(product))
    assert len(card) == 1 and card[0].get("sender", {}).get("name") == staff_name
    assert not problems, problems
