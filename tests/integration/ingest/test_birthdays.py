"""Birthdays against moto: the webhook's birthday on the member item and in the ByBirthday index, in the event's
own write; updates move the key, merges and unmerges keep the index true."""

from __future__ import annotations

import json
from datetime import date

from bench.counting import counting
from omo2c import wiring
from omo2c.identity.identifiers import Identifier, IdentifierKind
from omo2c.members.model import birthday_days
from omo2c.members.storage import MemberItem, audience_shard, member_key
from omo2c.sources.canonical import CanonicalEvent
from tests.conftest import LOCAL_SECRETS
from tests.integration.ingest.test_webhook_to_member import drain_to_worker, post_webhook, queued
from tests.support.aws import load_handler
from tests.support.events import pos_order, signed_headers

SECRET = LOCAL_SECRETS["OMO_SOURCE_SECRET_POS"]


def record(event_id: str, birthday: str | None = None, day: int = 1, **kwargs) -> str:
    raw = pos_order(event_id, order_id=f"O-{event_id}", occurred_at=f"2026-10-{day:02d}T10:00:00+08:00", **kwargs)
    if birthday is not None:
        raw["customer"]["birthday"] = birthday
    return wiring.production().resolver.record(CanonicalEvent.model_validate({**raw, "source": "pos"})).member_id


def stored(member_id: str) -> tuple[str | None, str | None]:
    item = MemberItem.get(*member_key(member_id), consistent_read=True)
    return item.birthday_md, item.birthday_key


def born_on(month_day: str) -> list[str]:
    members, read = wiring.production().members.born_on(month_day)
    assert read >= len(members)
    return sorted(m.member_id for m in members)


def test_a_pos_webhooks_birthday_reaches_the_member_item_and_the_birthday_index(aws, lambda_context):
    api, worker = load_handler("IngestApiFunction"), load_handler("IngestWorkerFunction")
    raw = pos_order("bd-1", phone="0955-810-001")
    raw["customer"]["birthday"] = "1990-03-14"
    body = json.dumps(raw).encode()
    assert post_webhook(api, lambda_context, body, signed_headers(body, SECRET))["statusCode"] == 202
    assert drain_to_worker(aws, worker, lambda_context) == {"batchItemFailures": []}
    member = wiring.production().members.find_by_identifier(Identifier(IdentifierKind.PHONE, "+886955810001"))
    assert member.profile_value("birthday") == "1990-03-14" and member.birthday_md == "03-14"
    assert stored(member.member_id) == ("03-14", f"03-14#{audience_shard(member.member_id)}")
    assert born_on("03-14") == [member.member_id] and born_on("03-15") == [] and born_on("14-03") == []


def test_a_bad_birthday_is_422_naming_the_field_and_nothing_is_queued(aws, lambda_context):
    api = load_handler("IngestApiFunction")
    raw = pos_order("bd-2")
    raw["customer"]["birthday"] = "2026-02-30"
    body = json.dumps(raw).encode()
    response = post_webhook(api, lambda_context, body, signed_headers(body, SECRET))
    assert response["statusCode"] == 422
    assert [d["field"] for d in json.loads(response["body"])["details"]] == ["customer.birthday"]
    assert queued(aws) == 0


def test_a_newer_birthday_moves_the_key_and_an_event_without_one_keeps_it(aws):
    member_id = record("u-1", "1990-03-14", day=1, phone="0955-810-002")
    assert record("u-2", day=2, phone="0955810002") == member_id  # no birthday: kept
    assert stored(member_id) == ("03-14", f"03-14#{audience_shard(member_id)}")
    assert record("u-3", "04-01", day=3, phone="0955810002") == member_id
    assert stored(member_id) == ("04-01", f"04-01#{audience_shard(member_id)}")
    assert born_on("03-14") == [] and born_on("04-01") == [member_id]
    record("u-0", "05-05", day=1, phone="0955810002")  # an older event's birthday does not win
    assert born_on("04-01") == [member_id] and born_on("05-05") == []


def test_a_merged_away_member_leaves_the_index_and_unmerging_brings_it_back(aws):
    old = record("m-1", "1990-03-14", day=1, phone="0955-810-003")
    young = record("m-2", "1991-07-07", day=2, phone=None, pos_member_no="P-810")
    plain = record("m-3", day=3, phone=None, email="plain@example.com")
    assert born_on("03-14") == [old] and born_on("07-07") == [young]
    assert record("m-4", day=4, phone="0955810003", email="plain@example.com") == old  # the other has none
    assert stored(old)[0] == "03-14" and stored(plain) == (None, None)
    assert record("m-5", day=5, phone="0955810003", pos_member_no="P-810") == old  # the newer birthday wins
    assert stored(young) == (None, None) and stored(old) == ("07-07", f"07-07#{audience_shard(old)}")
    assert born_on("03-14") == [] and born_on("07-07") == [old]

    store = wiring.production().members
    merge = next(m for m in store.merge_history(old) if m.absorbed_id == young)
    wiring.production().members_admin.unmerge(old, merge.merge_id)
    assert born_on("07-07") == [young] and born_on("03-14") == [old]


def test_the_29th_of_february_is_celebrated_on_the_28th_in_a_common_year(aws):
    leapling = record("l-1", "2000-02-29", phone="0955-810-004")
    other = record("l-2", "02-28", phone="0955-810-005")
    found = [m for day in birthday_days(date(2027, 2, 28)) for m in born_on(day)]
    assert sorted(found) == sorted([leapling, other])
    assert [m for day in birthday_days(date(2028, 2, 28)) for m in born_on(day)] == [other]


def test_born_on_reads_the_sixteen_shards_and_only_that_day(aws):
    ids = {record(f"p-{n}", "12-24", phone=f"0955-820-{n:03d}") for n in range(40)}
    record("p-x", "12-25", phone="0955-821-000")
    with counting() as calls:
        members, read = wiring.production().members.born_on("12-24")
    assert {m.member_id for m in members} == ids and read == 40
    assert calls.requests == {("dynamodb", "Query"): 16}


def test_a_known_members_order_with_a_birthday_still_costs_two_requests(aws):
    record("r-1", phone="0955-810-006")
    with counting() as calls:
        member_id = record("r-2", "1990-03-14", day=2, phone="0955810006")
    assert calls.requests == {("dynamodb", "BatchGetItem"): 1, ("dynamodb", "TransactWriteItems"): 1}
    assert born_on("03-14") == [member_id]
    with counting() as calls:
        record("r-3", "1990-03-15", day=3, phone="0955810006")
    assert calls.total("dynamodb") == 2 and born_on("03-15") == [member_id]
