"""The console's 行銷與報表 area in a real browser against the local run: the admin signs in with the admin token,
reads a store's month as tiles and charts drawn from the API, opens a campaign's report and pauses it; a manager's
API key and a manager signed in with LINE see their own store only; a staff member does not see the area.

Everything is seeded over HTTP (a store, signed POS webhooks, a campaign, staff linked through LINE) and every step
leaves a screenshot in tests/e2e/screenshots/marketer-*.png for a person to look at. Debian's chromium, driven by
Playwright with ``executable_path``.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests

from infra.journey import Journey, poll
from tests.e2e.conftest import CHROMIUM
from tests.support.events import line_body, line_event, line_signature, pos_order

pytestmark = pytest.mark.e2e

SHOTS = Path(__file__).resolve().parent / "screenshots"
LINE_SECRET = "local-line-channel-secret"  # the local run's default (infra/moto_stack.py)
TOTALS = (1280, 2000, 650)  # three walk-in customers' POS orders this month
STATUS = {"active": "進行中", "paused": "已暫停", "archived": "已封存"}

if not CHROMIUM.exists():  # before any fixture, so the local run is not started for nothing
    pytest.skip("chromium is not installed (apt-get install chromium)", allow_module_level=True)


def missing(response, what: str) -> str:
    hint = " (the route does not exist in the local run)" if response.status_code == 404 else ""
    return f"{what} answered {response.status_code}{hint}: {response.text[:300]}"


def count(value) -> str:
    """What the page shows for a count: zh-TW digits with thousands separators, — for none."""
    return "—" if value is None else f"{int(value):,}"


def pct(value) -> str:
    if value is None:
        return "—"
    return f"{float(value) * 100:.1f}".rstrip("0").rstrip(".") + "%"


def twd(amount) -> str:
    """An amount as Intl.NumberFormat('zh-TW', {currencyDisplay: 'code'}) writes it: a no-break space after TWD."""
    value = Decimal(str(amount))
    return f"TWD\xa0{value:,.0f}" if value == value.to_integral_value() else f"TWD\xa0{value:,.2f}"


class Seed:
    """The test's own store, staff and campaign, through the public HTTP API only."""

    def __init__(self, stack) -> None:
        self.stack = stack
        self.suffix = uuid.uuid4().hex[:6].upper()
        self.store_id = f"SMK{self.suffix}"
        self.admin = {**stack.admin, "Accept": "application/json"}
        self.month = datetime.now(ZoneInfo("Asia/Taipei")).strftime("%Y-%m")

    def send(self, method: str, path: str, body=None, expect=(200, 201)) -> dict:
        response = requests.request(method, f"{self.stack.url}{path}", json=body, headers=self.admin, timeout=10)
        assert response.status_code in expect, missing(response, f"{method} {path}")
        return response.json() if response.content else {}

    def line(self, user_id: str, kind: str = "message", text: str | None = None) -> None:
        event = line_event(kind, user_id=user_id, event_id=uuid.uuid4().hex.upper()[:26], text=text)
        if kind == "message":
            event["message"]["id"] = str(time.time_ns())
        body = line_body(event)
        response = self.stack.post("/line/webhook", data=body, headers={
            "X-Line-Signature": line_signature(body, LINE_SECRET), "Content-Type": "application/json"})
        assert response.status_code == 200, missing(response, "POST /line/webhook")

    def staff(self, staff_id: str, name: str, role: str) -> str:
        """A staff member of the store whose LINE account is linked: the LINE user id they sign in with."""
        self.send("PUT", f"/staff/{staff_id}", {"name": name, "store_id": self.store_id, "role": role})
        code = self.send("POST", f"/staff/{staff_id}/link-code")
        user = "U" + uuid.uuid4().hex
        self.line(user, "follow")
        self.line(user, text=code["message"])
        token = self.stack.post("/_local/line/id-token", json={"sub": user})
        assert token.status_code == 200, missing(token, "POST /_local/line/id-token")
        bearer = {"Authorization": f"Bearer {token.json()['id_token']}"}
        me = poll(lambda: (r := self.stack.get("/me", headers=bearer)).status_code == 200 and r.json(), 15)
        assert me and me["role"] == role and me["store_id"] == self.store_id, me
        return user

    def pos_orders(self) -> None:
        journey = Journey(self.stack.url, self.stack.admin_token, say=lambda _: None)
        now = datetime.now(ZoneInfo("Asia/Taipei")).isoformat(timespec="seconds")
        for i, total in enumerate(TOTALS):
            digits = f"{uuid.uuid4().int % 10**8:08d}"
            event = pos_order(f"mk-{self.suffix}-{i}", phone=f"09{digits[:2]}-{digits[2:5]}-{digits[5:]}",
                              order_id=f"{self.store_id}-{i}", total=total, occurred_at=now, name=f"顧客{i}")
            event.update(store_id=self.store_id, staff_id=f"MK{self.suffix}")
            event["order"]["items"] = [{"sku": "TEA-01", "name": "熟成紅茶", "quantity": 1, "price": total}]
            event["order"]["discount"] = 0
            response = journey.post_signed("pos", event)
            assert response.status_code == 202, missing(response, "POST /webhooks/pos")

    def kpis(self, headers: dict | None = None) -> requests.Response:
        return self.stack.get(f"/stores/{self.store_id}/kpis", params={"month": self.month},
                              headers=headers or self.admin)


@pytest.fixture(scope="module")
def seeded(local_stack):
    seed = Seed(local_stack)
    seed.send("PUT", f"/stores/{seed.store_id}", {"name": "信義旗艦店"})
    seed.cashier = f"MK{seed.suffix}"
    seed.cashier_line = seed.staff(seed.cashier, "王小明", "staff")
    seed.manager_line = seed.staff(f"MM{seed.suffix}", "陳店長", "manager")
    seed.pos_orders()
    seed.campaign = seed.send("POST", "/campaigns", {
        "name": f"信義旗艦店回饋 {seed.suffix}", "segment": {"store_ids": [seed.store_id]},
        "message": "{name} 您好，旗艦店本週會員 9 折。", "channels": ["line", "sms"],
        "schedule": "cron(0 11 * * ? *)", "quiet_hours": [], "conversion_days": 7})
    seed.manager_key = seed.send("POST", "/api-keys", {"name": f"BI {seed.suffix}", "role": "manager",
                                                       "store_id": seed.store_id})["key"]

    def rolled_up():
        response = seed.kpis()
        assert response.status_code != 404, missing(response, "GET /stores/{id}/kpis")
        body = response.json() if response.status_code == 200 else {}
        return body if (body.get("sales") or {}).get("pos", {}).get("orders") == len(TOTALS) else None

    seed.numbers = poll(rolled_up, 30)
    if seed.numbers is None:
        response = seed.kpis()
        pytest.fail(f"the store's month never showed the {len(TOTALS)} POS orders: "
                    f"{missing(response, 'GET /stores/{id}/kpis')}")

    # One run of the campaign (its members exist now), settled, so the report has something to show.
    campaign_id = seed.campaign["campaign_id"]
    seed.send("POST", f"/campaigns/{campaign_id}/run", {}, expect=(202,))

    def settled():
        report = seed.send("GET", f"/campaigns/{campaign_id}/report")
        totals = report.get("totals") or {}
        done = totals.get("sent", 0) + totals.get("failed", 0) + sum((totals.get("skipped") or {}).values())
        return report if report.get("runs") and totals.get("sending") == 0 and done == totals.get("selected") else None

    assert poll(settled, 30), seed.send("GET", f"/campaigns/{campaign_id}/report")
    return seed


def watch(page, problems: list[str]) -> None:
    page.set_default_timeout(15_000)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    # Console errors include the browser's Content-Security-Policy refusals (an inline style, a script); an API's
    # 403 the page expects (a manager's key asking for the store list) is only "Failed to load resource".
    page.on("console", lambda msg: problems.append(f"console: {msg.text}")
            if msg.type == "error" and not msg.text.startswith("Failed to load resource") else None)


def drawn(page, name: str) -> None:
    page.locator(f'[data-testid="chart-{name}"][data-drawn="true"]').wait_for()


def test_the_admin_reads_the_dashboards_and_pauses_a_campaign(local_stack, browser, seeded):
    SHOTS.mkdir(exist_ok=True)
    numbers, campaign = seeded.numbers, seeded.campaign
    assert Decimal(numbers["sales"]["pos"]["amount"]["TWD"]) == sum(TOTALS)
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, locale="zh-TW",
                                  timezone_id="Asia/Taipei", is_mobile=True, has_touch=True, accept_downloads=True)
    page = context.new_page()
    problems: list[str] = []
    watch(page, problems)
    try:
        page.goto(f"{local_stack.url}/console")
        page.get_by_test_id("key-signin-link").click()
        page.get_by_test_id("key-token").fill(local_stack.admin_token)
        page.screenshot(path=SHOTS / "marketer-01-key-sign-in.png")
        page.get_by_test_id("key-submit").click()

        # The admin picks the test's store from GET /stores; the month defaults to this one in Taipei.
        page.get_by_test_id("mk-store").select_option(seeded.store_id)
        assert page.get_by_test_id("mk-month").input_value() == seeded.month
        page.locator('[data-testid="tile-pos-value"]', has_text=twd(sum(TOTALS))).wait_for()
        for chart in ("trend", "trend-counts", "napl"):
            drawn(page, chart)
        assert page.get_by_test_id("who").inner_text() == "管理者"

        tile = lambda key: page.get_by_test_id(f"tile-{key}-value").inner_text()  # noqa: E731
        assert tile("pos").splitlines() == [twd(sum(TOTALS)), f"{len(TOTALS)} 筆訂單"]
        assert tile("members-new") == count(numbers["members"]["new"])
        assert tile("members-total") == count(numbers["members"]["total"])
        assert tile("bound") == count(numbers["bindings"]["bound_customers"])
        assert tile("ec").splitlines()[0] == (
            "\n".join(twd(v) for v in numbers["sales"]["ec_credited"]["amount"].values()) or "0")
        assert tile("omo").splitlines()[0] == pct(numbers["omo_share"]["share"])
        assert tile("top20").splitlines()[0] == pct(numbers["top20_revenue_share"]["share"])
        assert tile("conversions") == count(numbers["campaigns"]["conversions"])

        # The charts drew the API's numbers: one bar per month and channel, this month's POS bar is the orders'.
        trend = numbers["trend"]
        assert len(trend) == 6 and trend[-1]["month"] == seeded.month
        assert page.locator('[data-testid="chart-trend"] .ct-bar').count() == 2 * len(trend)
        last = page.locator('[data-testid="chart-trend"] .ct-series-a .ct-bar').last
        assert Decimal(last.get_attribute("ct:value")) == sum(TOTALS)
        y1, y2 = float(last.get_attribute("y1")), float(last.get_attribute("y2"))
        assert y1 - y2 > 20, "this month's POS bar has a height"
        assert page.locator('[data-testid="chart-trend-counts"] .ct-point').count() == 2 * len(trend)
        assert page.locator('[data-testid="chart-napl"] .ct-bar').count() == 5
        napl = [float(v) for v in page.locator('[data-testid="chart-napl"] .ct-bar').evaluate_all(
            "bars => bars.map(b => b.getAttribute('ct:value'))")]
        assert napl == [float(numbers["napl"][k]) for k in ("new", "active", "passive", "lost", "prospect")]
        for name, share in (("omo", numbers["omo_share"]["share"]), ("top20", numbers["top20_revenue_share"]["share"])):
            if share is None:
                assert page.get_by_test_id(f"chart-{name}").inner_text() == "這個月沒有資料"
            else:
                drawn(page, name)
                assert page.locator(f'[data-testid="chart-{name}"] .ct-slice-donut').count() == 2
                assert page.get_by_test_id(f"chart-{name}-value").inner_text() == pct(share)
        page.screenshot(path=SHOTS / "marketer-02-dashboard.png", full_page=True)

        # The key lives in this tab's sessionStorage only: never localStorage, never the URL.
        stored = page.evaluate("() => sessionStorage.getItem('omo2c.console.key')")
        assert local_stack.admin_token in stored
        assert local_stack.admin_token not in page.evaluate("() => JSON.stringify(localStorage)")
        assert local_stack.admin_token not in page.url

        page.get_by_test_id("mk-nav-campaigns").click()
        row = page.locator(f'[data-testid="campaign-row"][data-campaign-id="{campaign["campaign_id"]}"]')
        row.wait_for()
        listed = next(c for c in local_stack.get("/campaigns", headers=seeded.admin).json()["campaigns"]
                      if c["campaign_id"] == campaign["campaign_id"])
        assert campaign["name"] in row.inner_text()
        assert "每天 11:00" in row.inner_text() and "LINE" in row.inner_text()
        status = listed.get("status")
        assert row.get_by_test_id("campaign-status").inner_text() == STATUS.get(status, status or "—")
        page.screenshot(path=SHOTS / "marketer-03-campaigns.png", full_page=True)

        row.click()
        page.get_by_test_id("report-name").wait_for()
        assert page.get_by_test_id("report-name").inner_text() == campaign["name"]
        report = local_stack.get(f"/campaigns/{campaign['campaign_id']}/report", headers=seeded.admin).json()
        totals = report["totals"]
        assert page.get_by_test_id("tile-report-selected-value").inner_text() == count(totals["selected"])
        assert page.get_by_test_id("tile-report-sent-value").inner_text() == count(totals["sent"])
        assert page.get_by_test_id("tile-report-revenue-value").inner_text() == twd(totals["revenue"])
        assert len(report["runs"]) == 1 and page.get_by_test_id("report-run").count() == 1
        assert "手動" in page.get_by_test_id("report-run").inner_text()
        drawn(page, "funnel")
        assert page.locator('[data-testid="chart-funnel"] .ct-bar').count() == 4
        page.screenshot(path=SHOTS / "marketer-04-report.png", full_page=True)

        assert status == "active", f"a new campaign is active: {listed}"
        assert page.get_by_test_id("report-status").inner_text() == "進行中"
        page.get_by_test_id("campaign-pause").click()
        page.locator('[data-testid="report-status"][data-status="paused"]').wait_for()
        assert page.get_by_test_id("report-status").inner_text() == "已暫停"
        assert page.get_by_test_id("campaign-resume").is_visible()
        paused = local_stack.get(f"/campaigns/{campaign['campaign_id']}", headers=seeded.admin).json()
        assert paused["status"] == "paused"
        page.screenshot(path=SHOTS / "marketer-05-paused.png")

        csv = local_stack.get(f"/campaigns/{campaign['campaign_id']}/report",
                              headers={**seeded.admin, "Accept": "text/csv"})
        assert csv.status_code == 200 and csv.headers["Content-Type"].startswith("text/csv"), missing(
            csv, "GET /campaigns/{id}/report as text/csv")
        with page.expect_download() as download:
            page.get_by_test_id("report-csv").click()
        saved = download.value
        assert saved.suggested_filename == f"campaign-{campaign['campaign_id']}-report.csv"
        downloaded = Path(saved.path()).read_text(encoding="utf-8-sig").splitlines()
        assert downloaded[:1] == csv.content.decode("utf-8-sig").splitlines()[:1]  # the same columns

        page.get_by_test_id("mk-nav-campaigns").click()
        row.get_by_test_id("campaign-status").filter(has_text="已暫停").wait_for()

        page.locator("#signout").click()
        page.get_by_test_id("key-form").wait_for()
        assert page.evaluate("() => sessionStorage.getItem('omo2c.console.key')") is None
        page.screenshot(path=SHOTS / "marketer-06-signed-out.png")
    except Exception:
        page.screenshot(path=SHOTS / "marketer-99-failed.png", full_page=True)
        raise
    finally:
        context.close()
    assert not problems, problems


def test_managers_see_their_own_store_and_staff_do_not_see_the_area(local_stack, browser, seeded):
    SHOTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, locale="zh-TW",
                                  timezone_id="Asia/Taipei", is_mobile=True, has_touch=True)
    page = context.new_page()
    problems: list[str] = []
    watch(page, problems)
    pos = twd(sum(TOTALS))
    try:
        # A manager's API key: role manager, one store, typed beside the key.
        page.goto(f"{local_stack.url}/console#/marketing")
        page.get_by_test_id("key-token").fill(seeded.manager_key)
        page.get_by_test_id("key-submit").click()
        error = page.get_by_test_id("key-error")
        error.wait_for()
        assert "門市代號" in error.inner_text()  # a manager's key needs its store
        page.get_by_test_id("key-store").fill(seeded.store_id)
        page.get_by_test_id("key-submit").click()
        page.locator('[data-testid="tile-pos-value"]', has_text=pos).wait_for()
        drawn(page, "trend")
        assert seeded.store_id in page.get_by_test_id("mk-store-fixed").inner_text()
        assert page.get_by_test_id("mk-store").count() == 0
        assert page.get_by_test_id("who").inner_text() == f"店長・{seeded.store_id}"
        campaigns_open = local_stack.get("/campaigns", headers={"Authorization": f"Bearer {seeded.manager_key}",
                                                                "Accept": "application/json"}).status_code == 200
        assert page.get_by_test_id("mk-nav-campaigns").count() == (1 if campaigns_open else 0)
        page.screenshot(path=SHOTS / "marketer-07-manager-key.png", full_page=True)
        if campaigns_open:  # managers read campaigns and reports, and change nothing
            page.get_by_test_id("mk-nav-campaigns").click()
            row = page.locator(f'[data-testid="campaign-row"][data-campaign-id="{seeded.campaign["campaign_id"]}"]')
            row.click()
            page.get_by_test_id("report-name").filter(has_text=seeded.campaign["name"]).wait_for()
            page.get_by_test_id("report-csv").wait_for()
            assert page.get_by_test_id("campaign-pause").count() == page.get_by_test_id("campaign-resume").count() == 0
            page.screenshot(path=SHOTS / "marketer-07b-manager-report.png", full_page=True)
        page.locator("#signout").click()
        page.get_by_test_id("key-form").wait_for()

        # A manager signed in with LINE finds 行銷與報表 among the console's tabs, their store fixed.
        page.get_by_test_id("key-line").click()
        page.get_by_test_id("signin-user").fill(seeded.manager_line)
        page.get_by_test_id("signin-submit").click()
        page.get_by_test_id("tab-marketing").click()
        page.locator('[data-testid="tile-pos-value"]', has_text=pos).wait_for()
        drawn(page, "napl")
        assert "信義旗艦店" in page.get_by_test_id("mk-store-fixed").inner_text()
        assert "陳店長" in page.get_by_test_id("who").inner_text()
        page.screenshot(path=SHOTS / "marketer-08-line-manager.png", full_page=True)
    except Exception:
        page.screenshot(path=SHOTS / "marketer-99-failed.png", full_page=True)
        raise
    finally:
        context.close()

    # A staff member of the same store: no tab, and the address itself says no.
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-TW", timezone_id="Asia/Taipei")
    page = context.new_page()
    watch(page, problems)
    fetched: list[str] = []
    page.on("request", lambda request: fetched.append(request.url))
    try:
        page.goto(f"{local_stack.url}/console")
        page.get_by_test_id("signin-user").fill(seeded.cashier_line)
        page.get_by_test_id("signin-submit").click()
        page.get_by_test_id("customer-list").wait_for(state="attached")
        assert page.get_by_test_id("tab-marketing").is_hidden()
        page.evaluate("() => { location.hash = '#/marketing'; }")
        page.get_by_test_id("notice").filter(has_text="沒有權限").wait_for()
        assert page.get_by_test_id("marketing").count() == 0
        page.screenshot(path=SHOTS / "marketer-09-staff-no-access.png")
        # A staff member's phone never downloads the area's script, styles or the chart library.
        assert not [url for url in fetched if "marketing." in url or "chartist." in url], fetched
    finally:
        context.close()
    assert not problems, problems
