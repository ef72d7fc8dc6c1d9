"""The sample journey of DESIGN.md, played over HTTP against a running local stack.

Each step uses the public contracts only (signed webhooks, the admin API), so it shows a
newcomer what the product does and proves the local run end to end. It grows with every
capability that lands.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from omo2c.signatures import omo_signature

EVENTS = Path(__file__).resolve().parents[1] / "events"


class JourneyFailed(RuntimeError):
    pass


class Journey:
    def __init__(self, base_url: str, admin_token: str, say: Callable[[str], None] = print) -> None:
        self.base = base_url.rstrip("/")
        self.admin = {"Authorization": f"Bearer {admin_token}"}
        self.say = say
        self.http = requests.Session()

    def post_signed(self, source: str, event: dict[str, Any]) -> requests.Response:
        body = json.dumps(event, ensure_ascii=False).encode()
        ts = str(int(time.time()))
        secret = os.environ.get(f"OMO_SOURCE_SECRET_{source.upper()}", f"local-{source}-secret")
        headers = {"Content-Type": "application/json", "X-Omo-Timestamp": ts,
                   "X-Omo-Signature": omo_signature(secret, ts, body)}
        return self.http.post(f"{self.base}/webhooks/{source}", data=body, headers=headers, timeout=10)

    def admin_get(self, path: str, **params: str) -> requests.Response:
        return self.http.get(f"{self.base}{path}", params=params, headers=self.admin, timeout=10)

    def wait_for(self, what: str, probe: Callable[[], Any], timeout: float = 20.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = probe()
            if result:
                return result
            time.sleep(0.2)
        raise JourneyFailed(f"timed out waiting for {what}")

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


def play(base_url: str, admin_token: str, say: Callable[[str], None] = print) -> dict[str, Any]:
    """Play every step that exists so far; raise JourneyFailed on the first step that breaks."""
    journey = Journey(base_url, admin_token, say)
    member = journey.step_pos_sale()
    say("Journey done.")
    return {"member": member}
