"""Store and staff dashboards against moto: bus events through the dashboards consumer (a batch in one read and
one transaction; redeliveries, reordering, a concurrent consumer, a poison record), the two routes with their
scopes, 404 and 422, one request per read, and the month rebuild from the stored orders."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from bench.counting import counting
from omo2c import wiring
from omo2c.access.model import Principal, Role
from omo2c.core.settings import Settings
from omo2c.dashboards.api_models import Dashboard
from omo2c.dashboards.service import Dashboards
from omo2c.dashboards.storage import DashboardStore, rollup_key
from omo2c.identity.identifiers import Identifier, IdentifierKind
from omo2c.sources.canonical import CanonicalEvent
from tests.conftest import TABLES, published
from tests.support.aws import http_event, load_handler, sqs_event
from tests.support.events import pos_order, sample

NOW = datetime(2026, 11, 25, 3, tzinfo=UTC)
DASHBOARD_EVENTS = {"member.created", "member.merged", "member.bound", "member.unbound", "order.recorded",
                    "commission.recorded", "campaign.converted"}
MANAGER = Principal(Role.MANAGER, "M001", "ST01")
OTHER_MANAGER = Principal(Role.MANAGER, "M002", "ST02")
STAFF = Principal(Role.STAFF, "S001", "ST01")
OTHER_STAFF = Principal(Role.STAFF, "S002", "ST01")


@pytest.fixture
def world(aws, lambda_context):
    services = wiring.Services(Settings.from_env(), clock=lambda: NOW)
    directory = services.staff_directory
    directory.put_store("ST01", "信義店", None)
    directory.put_store("ST02", "板橋店", None)
    amy, _ = directory.put_staff("S001", "王小明", "ST01", "active")
    directory.put_staff("S002", "陳大文", "ST01", "active")
    directory.put_staff("S009", "林阿華", "ST02", "active")
    consumer, api = load_handler("DashboardsFunction"), load_handler("DashboardsApiFunction")

    def record(*raw_events: dict) -> list[dict]:
        """Ingest and credit canonical events; the envelopes that reached the dashboards' rule."""
        for raw in raw_events:
            outcome = services.resolver.record(CanonicalEvent.model_validate({**raw, "source": raw.get("source",
                                                                                                        "pos")}))
            services.publish(outcome.events)
            for event in outcome.events:
                if event.DETAIL_TYPE == "order.recorded":
                    services.commission_service.record(event)
        return [e for e in published(aws) if e["detail-type"] in DASHBOARD_EVENTS]

    def deliver(envelopes: list) -> dict:
        bodies = [e if isinstance(e, str) else json.dumps(e) for e in envelopes]
        return consumer.lambda_handler(sqs_event(bodies), lambda_context, services)

    def kpis(kind: str, scope_id: str, month: str | None = "2026-11", caller: Principal | None = None) -> tuple:
        route = "/stores/{store_id}/kpis" if kind == "store" else "/staff/{staff_id}/kpis"
        param = "store_id" if kind == "store" else "staff_id"
        event = http_event("GET", route.replace("{" + param + "}", scope_id), route=route,
                           path_params={param: scope_id}, query={"month": month} if month else None,
                           **({"caller": caller.context()} if caller else {}))
        response = api.lambda_handler(event, lambda_context, services)
        return response["statusCode"], json.loads(response["body"])

    return SimpleNamespace(services=services, record=record, deliver=deliver, kpis=kpis, code=amy.code)


def sale(event_id: str, order_id: str, total: int, phone: str, **changes) -> dict:
    return pos_order(event_id, phone=phone, order_id=order_id, total=total,
                     occurred_at=changes.pop("occurred_at", "2026-11-22T14:05:00+08:00"), **changes)


def web_order(event_id: str, order_id: str, total: int, phone: str, code: str) -> dict:
    raw = sale(event_id, order_id, total, phone, occurred_at="2026-11-24T20:00:00+08:00")
    raw.update(channel="ec", source="ec", store_id=None, staff_id=None, referral_code=code)
    return raw


def member_id(world, phone: str) -> str:
    return world.services.members.find_by_identifier(Identifier(IdentifierKind.PHONE, phone)).member_id


def test_a_month_of_a_store_rolls_up_and_reads_in_one_request(world):
    envelopes = world.record(sale("d-1", "D-1", 1280, "0955-700-001"), sale("d-2", "D-2", 500, "0955-700-002"),
                             web_order("d-3", "EC-1", 2000, "0955700001", world.code))
    assert {e["detail-type"] for e in envelopes} == {"member.created", "order.recorded", "commission.recorded"}
    with counting() as calls:
        assert world.deliver(envelopes) == {"batchItemFailures": []}
    assert dict(calls.requests) == {("dynamodb", "BatchGetItem"): 1, ("dynamodb", "TransactWriteItems"): 1}

    with counting() as calls:
        status, body = world.kpis("store", "ST01")
    assert status == 200 and calls.total("dynamodb") == 1 and calls.total() == 1
    Dashboard.model_validate(body)
    assert body["members"] == {"new": 2, "total": 2}
    assert body["sales"]["pos"] == {"orders": 2, "amount": {"TWD": "1780"}}
    assert body["sales"]["ec_credited"] == {"orders": 1, "amount": {"TWD": "2000"}}
    assert body["omo_share"] == {"members_both_channels": 1, "members_with_orders": 2, "share": 0.5}
    assert body["napl"] == {"new": 2, "active": 0, "passive": 0, "lost": 0, "prospect": 0}
    assert body["top20_revenue_share"] == {"share": round(3280 / 3780, 4), "buyers": 2, "exact": True,
                                           "currency": "TWD"}
    assert body["trend"][-1] == {"month": "2026-11", "pos": {"TWD": "1780"}, "ec_credited": {"TWD": "2000"},
                                 "new_members": 2, "conversions": 0}
    status, staff = world.kpis("staff", "S001")
    assert status == 200 and staff["sales"]["pos"]["orders"] == 2 and staff["members"]["total"] == 0, \
        "members count for the staff member they are bound to, sales for the checkout staff member"


def test_redeliveries_and_any_order_end_the_same(world):
    phone = "0955-700-010"
    first = world.record(sale("r-1", "R-1", 3000, phone), sale("r-2", "R-2", 800, "0955-700-011"))
    refund = world.record(sale("r-3", "R-1", 3000, phone, type_="order.refunded",
                               refunds=[{"refund_id": "X1", "amount": 1000}]))
    binding = json.loads(json.dumps(sample("dashboards/sqs-dashboard-events-batch.json")["Records"][2]["body"]))
    bound = json.loads(binding)
    bound["detail"]["member_id"] = member_id(world, "+886955700010")
    everything = [*first, *refund, bound]
    assert world.deliver(list(reversed(everything))) == {"batchItemFailures": []}
    once = world.kpis("store", "ST01")[1]
    assert world.deliver(everything + everything[:2]) == {"batchItemFailures": []}
    assert world.kpis("store", "ST01")[1] == once
    assert once["sales"]["pos"] == {"orders": 2, "amount": {"TWD": "2800"}}, "the refund's version, not the sale's"
    assert once["bindings"] == {"bound_customers": 1, "new": 1}
    assert world.kpis("staff", "S001")[1]["members"] == {"new": 1, "total": 1}


def test_a_concurrent_consumer_cancels_the_transaction_and_the_batch_is_read_again(world):
    """Two consumers work on the same member: the second writes between the first's read and its write."""
    envelopes = world.record(sale("c-1", "C-1", 1000, "0955-700-020"), sale("c-2", "C-2", 700, "0955-700-020"))
    created = [e for e in envelopes if e["detail-type"] == "member.created"]
    orders = [e for e in envelopes if e["detail-type"] == "order.recorded"]
    other = Dashboards(DashboardStore(world.services.settings), lambda: NOW)

    class Interleaved(DashboardStore):
        commits = 0

        def commit(self, chunk):
            Interleaved.commits += 1
            if Interleaved.commits == 1:
                from omo2c.events import ENVELOPES

                other.record([("other", ENVELOPES[e["detail-type"]].model_validate(e).detail)
                              for e in created + orders[1:]])
            super().commit(chunk)

    world.services.dashboards = Dashboards(Interleaved(world.services.settings), lambda: NOW, sleep=lambda _: None)
    assert world.deliver(orders + created) == {"batchItemFailures": []}
    assert Interleaved.commits == 2, "cancelled once by the other consumer's write, then read again and written"
    body = world.kpis("store", "ST01")[1]
    assert body["sales"]["pos"] == {"orders": 2, "amount": {"TWD": "1700"}} and body["members"]["total"] == 1
    assert body["top20_revenue_share"]["buyers"] == 1


def test_a_record_that_does_not_parse_fails_alone(world):
    envelopes = world.record(sale("p-1", "P-1", 900, "0955-700-030"))
    (order,) = [e for e in envelopes if e["detail-type"] == "order.recorded"]
    broken = {**order, "detail": {**order["detail"], "net_kept": "lots"}}
    result = world.deliver([json.dumps(broken), *envelopes])
    assert result == {"batchItemFailures": [{"itemIdentifier": "m-0"}]}
    assert world.kpis("store", "ST01")[1]["sales"]["pos"]["orders"] == 1


def test_who_may_see_which_dashboard(world):
    world.deliver(world.record(sale("s-1", "S-1", 900, "0955-700-040")))
    assert world.kpis("store", "ST01", caller=MANAGER)[0] == 200
    assert world.kpis("staff", "S002", caller=MANAGER)[0] == 200, "a staff member of the manager's store"
    assert world.kpis("staff", "S001", caller=STAFF)[0] == 200
    for kind, scope_id, caller in (("store", "ST01", OTHER_MANAGER), ("store", "ST01", STAFF),
                                   ("staff", "S009", MANAGER), ("staff", "S001", OTHER_STAFF),
                                   ("staff", "S404", MANAGER), ("store", "ST02", MANAGER)):
        status, body = world.kpis(kind, scope_id, caller=caller)
        assert (status, body["message"]) == (403, "this is not yours to see"), (kind, scope_id, caller)


def test_unknown_scopes_are_404_a_bad_month_422_and_the_month_defaults_to_now(world):
    assert world.kpis("store", "ST404")[0] == 404 and world.kpis("staff", "S404")[0] == 404
    status, body = world.kpis("store", "ST01", month="2026-13")
    assert status == 422 and body["details"][0]["field"] == "month"
    status, body = world.kpis("store", "ST01", month=None)
    assert status == 200 and body["month"] == "2026-11"


def test_the_rebuild_recomputes_a_month_from_the_stored_orders(world, aws, monkeypatch):
    world.deliver(world.record(sale("b-1", "B-1", 1200, "0955-700-050"), sale("b-2", "B-2", 300, "0955-700-051")))
    expected = world.kpis("store", "ST01")[1]
    pk, sk = rollup_key(("store:ST01", "2026-11"))
    aws["dynamodb"].delete_item(TableName=TABLES["MembersTable"], Key={"pk": {"S": pk}, "sk": {"S": sk}})
    later = world.record(sale("b-3", "B-3", 400, "0955-700-052"))
    world.deliver([e for e in later if e["detail-type"] != "order.recorded"])  # the order's event is lost
    summary = world.services.dashboards.rebuild("2026-11")
    assert summary["orders"] == 3
    rebuilt = world.kpis("store", "ST01")[1]
    assert rebuilt["sales"]["pos"] == {"orders": 3, "amount": {"TWD": "1900"}}
    assert rebuilt["top20_revenue_share"]["buyers"] == 3 and expected["top20_revenue_share"]["buyers"] == 2
    assert world.services.dashboards.rebuild("2026-11")["orders"] == 3
    assert world.kpis("store", "ST01")[1] == rebuilt, "running it again changes nothing"

    from infra import cli

    monkeypatch.setattr(cli, "_running_stack", lambda: None)
    assert cli.main(["rebuild-kpis", "--month", "2026-11"]) == 0
    assert cli.main(["rebuild-kpis", "--month", "2026-1"]) == 2


def test_commission_entries_reach_the_dashboards_once(world):
    envelopes = world.record(web_order("e-1", "EC-7", 1500, "0955-700-060", world.code))
    entries = [e for e in envelopes if e["detail-type"] == "commission.recorded"]
    assert [(e["detail"]["seq"], e["detail"]["kind"], e["detail"]["base"]) for e in entries] == [(1, "sale", "1500")]
    world.deliver(envelopes + entries)
    world.deliver(entries)
    assert world.kpis("staff", "S001")[1]["sales"]["ec_credited"] == {"orders": 1, "amount": {"TWD": "1500"}}
    assert NOW - timedelta(days=1) < datetime.fromisoformat(entries[0]["detail"]["at"])
