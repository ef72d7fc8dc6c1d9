"""Campaign costs: items read ÷ members due at 10k and 100k members (a day window, a 1% tag, a 1% tier);
LINE calls per 1,000 identical-content recipients; DynamoDB requests per campaign send.

A tag segment reads the tag's audience items (16 shards, keys only, ~100 bytes each), then batch-gets only
those members: ``campaign_read_ratio.tag_100k`` is member items read ÷ members due, like the day-window
figure; ``campaign_audience_keys_per_due.tag_100k`` the audience items on top (so every item DynamoDB
returned ÷ due is the sum of the two). A tier segment reads the ByTier index, whose entries are the whole
members (projection ALL): its ratio is every item read ÷ due."""

from __future__ import annotations

import os
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.counting import counting
from infra import moto_stack

SIZES = [int(n) for n in os.environ.get("BENCH_CAMPAIGN_SIZES", "10000,100000").split(",")]
SEGMENT = {"days_since_last_order": {"min": 60, "max": 90}}
AUDIENCE_SIZE = int(os.environ.get("BENCH_AUDIENCE_SIZE", "100000"))
TAG_SEGMENT = {"tags": ["vip"]}
TIER_SEGMENT = {"tiers": ["gold"]}


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


def _with_audiences(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """1% tagged ``vip`` (with their audience items, as the resolver writes them), another 1% in the gold tier
    (``tier``/``tier_key``, as the loyalty area writes them); the extra items to load."""
    from omo2c.members.storage import audience_key, audience_shard

    extra = []
    for n, item in enumerate(items):
        member_id = item["member_id"]["S"]
        if n % 100 == 0:
            item["tags"] = {"SS": ["vip"]}
            pk, sk = audience_key("tag", "vip", member_id)
            extra.append({"pk": {"S": pk}, "sk": {"S": sk}, "member_id": {"S": member_id}, "tag": {"S": "vip"}})
            extra.append({"pk": {"S": f"MEMBER#{member_id}"}, "sk": {"S": "TAG#vip"}, "member_id": {"S": member_id},
                          "tag": {"S": "vip"}, "source": {"S": "webhook:pos"}, "at": item["created_at"]})
        elif n % 100 == 50:
            item["tier"] = {"S": "gold"}
            item["tier_key"] = {"S": f"gold#{audience_shard(member_id)}"}
    return extra


def audience_ratios(size: int) -> dict[str, float]:
    """A 1% tag segment and a 1% tier segment at ``size`` members, through ``CampaignService.select``."""
    with moto_stack.in_process():
        from omo2c import wiring
        from omo2c.campaigns.model import Segment
        from omo2c.campaigns.rules import matches
        from omo2c.core.settings import Settings

        started = time.perf_counter()
        items = _member_items(size)
        _load(items + _with_audiences(items))
        results: dict[str, float] = {"campaign_audience_build_seconds": round(time.perf_counter() - started, 1)}
        service = wiring.Services(Settings.from_env()).campaign_service
        now = datetime.now(tz=UTC)
        label = f"{size // 1000}k"
        for kind, raw in (("tag", TAG_SEGMENT), ("tier", TIER_SEGMENT)):
            segment = Segment.model_validate(raw)
            with counting() as calls:
                members, read, in_tiers = service.select(segment, now)
            due = max(1, sum(1 for m in members if matches(m, segment, now, in_tiers=in_tiers)))
            assert read == calls.items_read, (read, calls.items_read)
            keys = read - len(members) if kind == "tag" else 0
            results[f"campaign_read_ratio.{kind}_{label}"] = round((read - keys) / due, 3)
            results[f"campaign_members_due.{kind}_{label}"] = due
            results[f"campaign_selection_requests.{kind}_{label}"] = calls.total("dynamodb")
            if kind == "tag":
                results[f"campaign_audience_keys_per_due.{kind}_{label}"] = round(keys / due, 3)
        return results


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
    results.update(audience_ratios(AUDIENCE_SIZE))
    results.update(line_calls_per_1000())
    return results


if __name__ == "__main__":
    for key, value in measure().items():
        print(f"{key}: {value}")
