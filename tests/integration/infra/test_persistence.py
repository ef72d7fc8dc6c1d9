"""`omo2c local --data-dir`: what one moto saves, a fresh moto gets back."""

from __future__ import annotations

import json
import threading
import time

import boto3

from infra.moto_stack import in_process
from infra.persistence import DataDir, Saver
from omo2c import wiring
from tests.conftest import LOCAL_SECRETS
from tests.support.events import sample

ITEM = {"pk": {"S": "MEMBER#m1"}, "sk": {"S": "PROFILE"}, "bound_staff_id": {"S": "S001"},
        "bound_at": {"S": "2026-11-22T06:05:00+00:00"}, "n": {"N": "1.5"}, "tags": {"SS": ["a", "b"]},
        "nested": {"M": {"list": {"L": [{"N": "1"}, {"S": "x"}, {"BOOL": True}, {"NULL": True}]}}}}


def _everything(names) -> dict:
    ddb, scheduler = boto3.client("dynamodb"), boto3.client("scheduler")
    tables = {logical_id: sorted(ddb.scan(TableName=names.ref(logical_id))["Items"],
                                 key=lambda item: json.dumps(item, sort_keys=True))
              for logical_id in names.template.tables}
    schedules = {}
    for group_id in names.template.schedule_groups:
        group = names.ref(group_id)
        schedules[group_id] = [
            {k: v for k, v in scheduler.get_schedule(Name=s["Name"], GroupName=group).items()
             if k not in ("ResponseMetadata", "CreationDate", "LastModificationDate")}
            for s in scheduler.list_schedules(GroupName=group)["Schedules"]]
    return {"tables": tables, "schedules": schedules}


def test_a_fresh_moto_gets_back_every_table_item_and_campaign_schedule(tmp_path):
    with in_process(secrets=LOCAL_SECRETS) as stack:
        ddb = boto3.client("dynamodb")
        for logical_id in stack.template.tables:
            key = "id" if logical_id == "IdempotencyTable" else None
            item = {"id": {"S": "line#E1"}, "status": {"S": "COMPLETED"}} if key else ITEM
            ddb.put_item(TableName=stack.names.ref(logical_id), Item=item)
        campaign = wiring.production().campaign_service.create(sample("notify/campaign.json"))
        before = _everything(stack.names)
        assert DataDir(tmp_path, stack.names).save()
    assert any(before["schedules"].values()) and all(before["tables"].values())

    with in_process(secrets=LOCAL_SECRETS) as stack:
        assert _everything(stack.names)["tables"]["MembersTable"] == []
        counts = DataDir(tmp_path, stack.names).restore()
        assert counts["MembersTable"] == 1 and counts["CampaignsTable"] >= 2
        assert _everything(stack.names) == before
        by_staff = boto3.client("dynamodb").query(
            TableName=stack.names.ref("MembersTable"), IndexName="ByBoundStaff",
            KeyConditionExpression="bound_staff_id = :s", ExpressionAttributeValues={":s": {"S": "S001"}})
        assert by_staff["Count"] == 1
        assert wiring.production().campaign_service.get(campaign.campaign_id).name == campaign.name


def test_the_saver_writes_each_change_soon_without_a_stop_and_nothing_when_unchanged(tmp_path):
    with in_process(secrets=LOCAL_SECRETS) as stack:
        data, stop = DataDir(tmp_path, stack.names), threading.Event()
        saver = Saver(data, stop, every=0.05)
        saver.start()
        try:
            boto3.client("dynamodb").put_item(TableName=stack.names.ref("MembersTable"), Item=ITEM)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and not (
                    data.file.exists() and "MEMBER#m1" in data.file.read_text()):
                time.sleep(0.05)
            assert "MEMBER#m1" in data.file.read_text()
        finally:
            stop.set()
            saver.join(timeout=5)
        assert not data.save()


def test_a_run_draining_before_its_save_refuses_new_requests_but_still_serves_the_line_stand_in():
    from werkzeug.test import EnvironBuilder

    from infra.local import LocalRun

    run = LocalRun(0)
    run.closing = True
    webhook = EnvironBuilder(path="/webhooks/pos", method="POST", data=b"{}").get_request()
    assert run.dispatch(webhook).status_code == 503
    assert run.dispatch(EnvironBuilder(path="/_local/health").get_request()).status_code == 200
