"""A LINE user id from a POS/EC source links only when that source is trusted for it."""

from __future__ import annotations

import json

from omo2c.core.settings import Settings
from omo2c.sources.canonical import CanonicalEvent
from omo2c.sources.intake import accept_delivery
from tests.support.events import pos_order, signed_headers

ATTACKER = "U" + "a" * 32


def deliver(settings: Settings, *events: dict) -> tuple[dict, list[CanonicalEvent]]:
    body = json.dumps({"events": list(events)}).encode()
    queued: list[CanonicalEvent] = []
    result = accept_delivery("pos", signed_headers(body, "s"), body, settings=settings, secret_for=lambda _: "s",
                             enqueue=queued.extend, now=float(signed_headers(body, "s")["X-Omo-Timestamp"]))
    return result.response(), queued


def with_line(event_id: str, line_user_id: str | None = ATTACKER) -> dict:
    event = pos_order(event_id, phone="0955-666-777")
    event["customer"]["line_user_id"] = line_user_id
    return event


def test_an_untrusted_source_never_queues_a_line_user_id_and_says_so():
    response, queued = deliver(Settings(), with_line("e-1"), pos_order("e-2"))
    assert [e.customer.line_user_id for e in queued] == [None, None]
    assert queued[0].customer.phone == "0955-666-777", "the rest of the event goes through unchanged"
    assert response["accepted"] == ["e-1", "e-2"]
    (ignored,) = response["ignored"]
    assert ignored["event_id"] == "e-1" and ignored["field"] == "customer.line_user_id"
    assert "OMO_LINE_ID_TRUSTED_SOURCES" in ignored["reason"] and ATTACKER not in json.dumps(response)


def test_a_trusted_source_keeps_it_and_a_clean_delivery_answers_as_before():
    settings = Settings.from_env({"OMO_LINE_ID_TRUSTED_SOURCES": "crm, POS"})
    assert settings.line_id_trusted_sources == ("crm", "pos")
    response, queued = deliver(settings, with_line("e-1"))
    assert queued[0].customer.line_user_id == ATTACKER and response == {"accepted": ["e-1"]}
    response, _ = deliver(Settings(), pos_order("e-3"))
    assert response == {"accepted": ["e-3"]}
