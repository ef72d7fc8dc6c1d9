"""The cost model's accounting: DynamoDB units by the published rules, index writes from the template's key
schemas. Pure functions, plus one metered BatchGetItem on moto (no timing)."""

from __future__ import annotations

import pytest

from bench.cost_model import (
    Index,
    Meter,
    Table,
    Write,
    get_read_units,
    item_size,
    projections,
    query_read_units,
    read_units,
    tables,
    value_size,
    write_units,
)


def s(text: str) -> dict[str, str]:
    return {"S": text}


def test_item_size_follows_dynamodb_rules():
    assert value_size(s("信義")) == 6  # UTF-8 bytes
    assert value_size({"N": "1280"}) == 3  # 3 significant digits: 2 bytes, plus 1
    assert value_size({"N": "0.05"}) == 2
    assert value_size({"BOOL": True}) == value_size({"NULL": True}) == 1
    assert value_size({"M": {}}) == value_size({"L": []}) == 3
    assert value_size({"M": {"ab": s("xyz")}}) == 3 + 2 + 3
    assert value_size({"SS": ["a", "bc"]}) == 3
    assert item_size({"pk": s("MEMBER#1"), "n": {"N": "7"}}) == 2 + 8 + 1 + 2
    assert item_size(None) == 0


@pytest.mark.parametrize(("size", "consistency", "expected"), [
    (0, "strong", 1.0), (0, "eventual", 0.5),  # a missing item still costs a read
    (4096, "strong", 1.0), (4097, "strong", 2.0), (4097, "eventual", 1.0), (100, "transactional", 2.0),
])
def test_a_read_is_rounded_up_to_4_kb(size, consistency, expected):
    assert read_units(size, consistency) == expected


def test_batch_get_costs_every_key_requested_even_missing_ones():
    assert get_read_units([300, 0, 0], "strong") == 3.0
    assert get_read_units([300, 0, 0], "eventual") == 1.5
    assert get_read_units([5000, 0], "strong") == 3.0  # 8 KB for the first, 4 KB for the missing one


def test_a_query_rounds_the_items_it_reads_together():
    assert query_read_units([3000, 3000], "strong") == 2.0  # 6,000 bytes together, not 4 KB each
    assert query_read_units([100] * 40, "eventual") == 0.5
    assert query_read_units([], "eventual") == 0.5  # nothing found still costs the minimum


def test_a_write_is_the_larger_of_before_and_after_rounded_up_to_1_kb():
    assert write_units(0, 1024) == 1
    assert write_units(0, 1025) == 2
    assert write_units(2100, 300) == 3
    assert write_units(0, 0) == 1  # a delete of nothing, a failed condition on nothing
    assert write_units(500, 900, transactional=True) == 2


BY_DAY = Index("MembersTable", "ByLastOrderDay", ("activity_shard", "last_order_day"), ("pk", "sk"))
MEMBER = {"pk": s("MEMBER#m1"), "sk": s("PROFILE"), "activity_shard": s("A1"), "last_order_day": s("2026-11-02"),
          "order_count": {"N": "1"}}


def test_an_item_lands_in_an_index_only_with_all_its_key_attributes():
    assert BY_DAY.entry(MEMBER) == MEMBER
    assert BY_DAY.entry({k: v for k, v in MEMBER.items() if k != "last_order_day"}) is None
    assert BY_DAY.write_units(None, {"pk": s("ORDER#1"), "sk": s("ORDER")}) == 0


def test_index_writes_for_put_update_key_change_and_delete():
    counted = {**MEMBER, "order_count": {"N": "2"}}
    moved = {**counted, "last_order_day": s("2026-11-22")}
    assert BY_DAY.write_units(None, MEMBER) == 1  # a put into the index
    assert BY_DAY.write_units(MEMBER, counted) == 1  # a projected attribute changed
    assert BY_DAY.write_units(MEMBER, MEMBER) == 0  # nothing the index holds changed
    assert BY_DAY.write_units(counted, moved) == 2  # a key change: delete plus put
    assert BY_DAY.write_units(moved, None) == 1  # the item's deletion


def test_narrower_projections_skip_writes_that_change_no_projected_attribute():
    counted = {**MEMBER, "order_count": {"N": "2"}}
    keys_only = BY_DAY.projected("KEYS_ONLY")
    include = BY_DAY.projected("INCLUDE", ("order_count",))
    assert keys_only.entry(MEMBER) == {k: v for k, v in MEMBER.items() if k != "order_count"}
    assert keys_only.write_units(MEMBER, counted) == 0
    assert include.write_units(MEMBER, counted) == 1
    assert include.write_units(MEMBER, {**MEMBER, "profile": {"M": {}}}) == 0


def test_index_entries_over_1_kb_cost_more_and_store_100_bytes_more():
    big = {**MEMBER, "profile": s("x" * 1500)}
    assert BY_DAY.write_units(None, big) == 2
    assert BY_DAY.projected("KEYS_ONLY").write_units(None, big) == 1
    assert BY_DAY.storage_bytes(MEMBER) == item_size(MEMBER) + 100
    assert BY_DAY.storage_bytes({"pk": s("x"), "sk": s("y")}) == 0


def test_indexes_come_from_the_template():
    found = tables()
    members = found["MembersTable"]
    assert members.keys == ("pk", "sk")
    by_name = {i.name: i for i in members.indexes}
    assert by_name["ByTier"].keys == ("tier_key", "member_id")
    assert {i.projection for i in members.indexes} <= {"ALL", "KEYS_ONLY", "INCLUDE"}
    assert "IdempotencyTable" in found and not found["IdempotencyTable"].indexes


def test_projection_replay_prices_each_variant_on_the_same_writes():
    table = Table("MembersTable", ("pk", "sk"), (BY_DAY,))
    counted = {**MEMBER, "order_count": {"N": "2"}}
    meter = Meter({})
    meter.writes = [Write(table, None, MEMBER), Write(table, MEMBER, counted)]
    found = projections(meter, per=2)
    assert found["ByLastOrderDay.wru_per_million.all"] == 1_000_000  # 2 WRU over 2 orders
    assert found["ByLastOrderDay.wru_per_million.keys_only"] == 500_000
    assert found["ByLastOrderDay.entry_bytes.keys_only"] < found["ByLastOrderDay.entry_bytes.all"]


def test_metered_batch_get_of_three_keys_with_two_missing_costs_three_units():
    import boto3
    from moto import mock_aws

    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="ap-northeast-1")
        ddb.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                         KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
        ddb.put_item(TableName="t", Item={"pk": s("a"), "v": s("x" * 5000)})
        meter = Meter({"t": Table("t", ("pk",), ())})
        with meter.installed(), meter.acting("f") as usage:
            got = ddb.batch_get_item(RequestItems={"t": {"Keys": [{"pk": s(k)} for k in "abc"],
                                                         "ConsistentRead": True, "ProjectionExpression": "pk"}})
            ddb.put_item(TableName="t", Item={"pk": s("b")})
        assert len(got["Responses"]["t"]) == 1
        assert usage.read_units == 2 + 1 + 1  # the found item is 5 KB whatever the projection; two missing
        assert usage.legacy_read_units == 1  # what the old rule counted: items returned
        assert usage.write_units == 1 and len(meter.writes) == 1


def test_growth_is_the_mean_bytes_an_item_kind_gains_per_update():
    from bench.cost_model import growth

    table = Table("MembersTable", ("pk", "sk"), ())
    before = {"pk": s("MEMBER#1"), "sk": s("LOYALTY"), "lots": {"M": {}}}
    after = {**before, "lots": {"M": {"o1": {"N": "12"}}}}
    meter = Meter({})
    meter.writes = [Write(table, before, after), Write(table, None, before)]
    assert growth(meter) == {"LOYALTY.bytes_per_update": item_size(after) - item_size(before)}
