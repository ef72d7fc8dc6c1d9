"""Campaign costs: items read ÷ members due at 10k and 100k members; LINE calls per 1,000
identical-content recipients; DynamoDB requests per campaign send."""

from __future__ import annotations

import os
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.counting import counting
from infra import moto_stack

SIZES = [int(n) for n in os.environ.get("BENCH_CAMPAIGN_SIZES", "10000,100000").split(",")]
SEGMENT = {"days_since_last_order": {"min": 60, "max": 90}}


def _member_items(count: int, seed: int = 7) -> list[dict[str, Any]]:
    from omo2c.members.storage import activity_shard

    rnd = random.Random(seed)
    today = datetime.now(tz=UTC)
    items = []
    for n in range(count):
        member_id = f"bench{n:08d}"
        last = today - timedelta(days=rnd.randint(0, 400), hours=rnd.randint(0, 23))
        ms = int(last.timestamp() * 1000)
        items.append({
            "pk": {"S": f"MEMBER#{member_id}"}, "sk": {"S": "PROFILE"}, "member_id": {"S": member_id},
            "created_at": {"N": str(ms - 86_400_000)}, "status": {"S": "live"},
            "identifiers": {"L": [{"S": f"phone#+8869{n:08d}"}]}, "profile": {"M": {}},
            "consent": {"M": {"sms": {"BOOL": True}}}, "tags": {"L": []},
            "first_order_at": {"N": str(ms - 86_400_000)}, "last_order_at": {"N": str(ms)},
            "order_count": {"N": "2"}, "net_spent": {"N": "1000"}, "absorbed": {"L": []},
            "last_event_at": {"N": str(ms)}, "version": {"N": "1"},
            "last_order_day": {"S": (last + timedelta(hours=8)).strftime("%Y-%m-%d")},
            "activity_shard": {"S": activity_shard(member_id)},
            "line": {"M": {"user_id": {"S": f"U{n:032x}"}, "followed": {"BOOL": True}, "reachable": {"BOOL": True}}},
        })
    return items


def _load(items: list[dict[str, Any]]) -> None:
    from omo2c.core.aws import client

    ddb = client("dynamodb")
    table = os.environ["OMO_MEMBERS_TABLE"]
    for start in range(0, len(items), 25):
        ddb.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": i}} for i in items[start:start + 25]]})


def selection_ratio(size: int) -> tuple[float, int, int]:
    with moto_stack.in_process():
        from omo2c import wiring
        from omo2c.campaigns.model import Segment
        from omo2c.campaigns.rules import day_ranges, matches
        from omo2c.core.settings import Settings

        _load(_member_items(size))
        segment = Segment.model_validate(SEGMENT)
        now = datetime.now(tz=UTC)
        with counting() as calls:
            members, read = wiring.Services(Settings.from_env()).members.by_last_order_day(day_ranges(segment, now))
        due = sum(1 for m in members if matches(m, segment, now))
        return round(read / max(due, 1), 3), due, calls.total("dynamodb")


class CountingMessenger:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def reply(self, reply_token: str, texts: list[str]) -> None:
        self.calls.append(("reply", 1))

    def push(self, user_id: str, texts: list[str], retry_key: str) -> str:
        self.calls.append(("push", 1))
        return retry_key

    def multicast(self, user_ids: list[str], texts: list[str], retry_key: str) -> None:
        self.calls.append(("multicast", len(user_ids)))


def line_calls_per_1000() -> dict[str, float]:
    with moto_stack.in_process():
        import boto3

        from omo2c import wiring
        from omo2c.campaigns.model import SendJob
        from omo2c.core.settings import Settings

        queue = os.environ["OMO_SEND_QUEUE_URL"]
        items = _member_items(1000, seed=11)
        stale = (datetime.now(tz=UTC) - timedelta(days=75))
        for item in items:
            item["last_order_day"] = {"S": (stale + timedelta(hours=8)).strftime("%Y-%m-%d")}
            item["last_order_at"] = {"N": str(int(stale.timestamp() * 1000))}
        _load(items)
        messenger = CountingMessenger()
        service = wiring.Services(Settings.from_env(), messenger=messenger).campaign_service
        campaign = service.create({"name": "bench", "segment": SEGMENT, "message": "本週熟成紅茶 8 折",
                                   "channels": ["line"], "schedule": "cron(0 11 * * ? *)", "quiet_hours": []})
        service.run(campaign.campaign_id)
        sqs = boto3.client("sqs")
        with counting() as calls:
            sent = 0
            while True:
                got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
                if not got:
                    break
                for message in got:
                    sent += service.send(SendJob.model_validate_json(message["Body"])).get("sent", 0)
                    sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
        line_calls = sum(1 for kind, _ in messenger.calls if kind in ("push", "multicast"))
        return {"line_calls_per_1000": round(line_calls * 1000 / max(sent, 1), 2),
                "ddb_requests.campaign_send": round(calls.total("dynamodb") / max(sent, 1), 2),
                "campaign_sends_measured": sent}


def measure() -> dict[str, float]:
    results: dict[str, float] = {}
    for size in SIZES:
        ratio, due, requests = selection_ratio(size)
        label = f"{size // 1000}k"
        results[f"campaign_read_ratio.{label}"] = ratio
        results[f"campaign_members_due.{label}"] = due
        results[f"campaign_selection_requests.{label}"] = requests
    results.update(line_calls_per_1000())
    return results


if __name__ == "__main__":
    for key, value in measure().items():
        print(f"{key}: {value}")
