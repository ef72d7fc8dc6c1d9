"""`omo2c import`: the CSV mapping, validation messages, the checkpoint and the batching engine, without a stack."""

from __future__ import annotations

import io
import json
import threading
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from infra import importer
from infra.importer import (
    Acknowledged,
    Checkpoint,
    Fatal,
    Importer,
    ProgressBar,
    Record,
    Refused,
    Retry,
    StateFile,
    StateMismatch,
    WebhookSender,
    batches,
    records,
)
from omo2c.sources.canonical import CanonicalEvent
from omo2c.sources.signatures import verify_omo

TAIPEI = ZoneInfo("Asia/Taipei")
EVENTS = Path(__file__).resolve().parents[3] / "events"
HEADER = "order_id,occurred_at,store_id,staff_id,phone,name,total,item_sku,item_quantity,item_price\n"


def read(path: Path, source: str = "pos") -> tuple[list[Record], list[importer.Problem], list[str]]:
    problems: list[importer.Problem] = []
    columns: list[str] = []
    found = list(records(path, source, time_zone=TAIPEI, on_problem=problems.append, on_columns=columns.extend))
    return found, problems, columns


def write(tmp_path: Path, text: str, name: str = "orders.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------------- the CSV mapping
def test_consecutive_rows_of_one_order_are_one_event_with_one_item_per_row(tmp_path):
    path = write(tmp_path, HEADER
                 + "ST01-1,2026-11-22 14:05,ST01,S001,0933-128-765,林小美,,TEA-01,2,690\n"
                 + "ST01-1,,,,,,,CUP-02,1,100\n"
                 + "ST01-2,2026-11-22T15:00:00+08:00,ST01,S002,0958-221-034,,880,TEA-07,,880\n")
    found, problems, _ = read(path)
    assert problems == []
    assert [(r.index, r.line, r.last_line) for r in found] == [(0, 2, 3), (1, 4, 4)]
    first = found[0].event
    assert first.type.value == "order.created" and first.channel.value == "pos"
    assert first.occurred_at.isoformat() == "2026-11-22T14:05:00+08:00"  # no offset: --time-zone
    items = [(i.sku, i.quantity, str(i.price)) for i in first.order.items]
    assert items == [("TEA-01", 2, "690"), ("CUP-02", 1, "100")]
    assert str(first.order.total) == "1480"  # blank total: items - discount + shipping
    assert first.customer.phone == "0933-128-765" and first.staff_id == "S001"
    assert found[1].event.order.items[0].quantity == 1  # item_quantity defaults to 1
    assert json.loads(found[0].body) == json.loads(first.model_dump_json(exclude_none=True, exclude={"source"}))


def test_every_documented_column_lands_in_its_canonical_field(tmp_path):
    columns = ["event_id", "type", "order_id", "occurred_at", "channel", "store_id", "staff_id", "referral_code",
               "currency", "total", "discount", "shipping", "version", "coupons", "phone", "email", "name",
               "pos_member_no", "ec_customer_id", "birthday", "consent_sms", "consent_email", "consent_line", "tags",
               "item_sku", "item_name", "item_quantity", "item_price", "item_category"]
    values = ["e-1", "order.updated", "EC-9", "2026-11-22T14:05:00Z", "ec", "ST01", "S001", "REF1", "USD", "90", "10",
              "5", "3", "C1|C2", "0933128765", "Mei@Example.com", "Mei", "M1", "C-9", "03-14", "Yes", "0", "true",
              "vip| tea ", "SKU", "Tea", "2", "47.5", "tea"]
    found, problems, ignored = read(write(tmp_path, ",".join(columns) + "\n" + ",".join(values) + "\n"))
    assert problems == [] and ignored == []
    event = found[0].event
    assert event.event_id == "e-1" and event.type.value == "order.updated" and event.channel.value == "ec"
    assert (event.store_id, event.staff_id, event.referral_code) == ("ST01", "S001", "REF1")
    order = event.order
    assert (order.order_id, order.currency, str(order.total), str(order.discount), str(order.shipping),
            order.version, order.coupons) == ("EC-9", "USD", "90", "10", "5", 3, ["C1", "C2"])
    assert order.items[0].model_dump(mode="json") == {"sku": "SKU", "name": "Tea", "quantity": 2, "price": "47.5",
                                                      "category": "tea"}
    customer = event.customer
    assert (customer.phone, customer.email, customer.name, customer.pos_member_no, customer.ec_customer_id,
            customer.birthday, customer.tags) == ("0933128765", "Mei@Example.com", "Mei", "M1", "C-9", "03-14",
                                                  ["vip", "tea"])
    assert customer.consent.model_dump() == {"sms": True, "email": False, "line": True}


def test_refund_and_member_rows_map_to_their_event_types(tmp_path):
    path = write(tmp_path, "type,order_id,occurred_at,pos_member_no,refund_id,refund_amount,refund_reason,name\n"
                           "order.refunded,ST01-1,2026-11-25 11:00,,RF-1,690,damaged,\n"
                           "order.refunded,ST01-1,2026-11-26 11:00,,RF-2,10,,\n"
                           "member.upserted,,2026-11-20 09:00,M000789,,,,張美玲\n"
                           "order.cancelled,ST01-3,2026-11-27 09:00,,,,,\n")
    found, problems, _ = read(path)
    assert problems == []
    refund, second, member, cancel = (r.event for r in found)
    assert [(r.refund_id, str(r.amount), r.reason) for r in refund.order.refunds] == [("RF-1", "690", "damaged")]
    assert second.order.refunds[0].refund_id == "RF-2"  # another refund of the same order is another event
    assert member.type.value == "member.upserted" and member.order is None and member.customer.name == "張美玲"
    assert cancel.type.value == "order.cancelled" and cancel.order.order_id == "ST01-3"


def test_derived_event_ids_are_stable_and_tell_orders_apart(tmp_path):
    rows = ["ST01-1,2026-11-22 14:05,ST01,S001,0933128765,,1000,A,1,1000\n",
            "ST01-2,2026-11-22 14:05,ST01,S001,0933128765,,1000,A,1,1000\n",
            "ST02-1,2026-11-22 14:05,ST02,S001,0933128765,,1000,A,1,1000\n"]
    ids = [r.event_id for r in read(write(tmp_path, HEADER + "".join(rows), "a.csv"))[0]]
    again = [r.event_id for r in read(write(tmp_path, HEADER + "".join(rows), "b.csv"))[0]]
    reordered = {r.event.order.order_id + r.event.store_id: r.event_id
                 for r in read(write(tmp_path, HEADER + "".join(reversed(rows)), "c.csv"))[0]}
    same_instant = read(write(tmp_path, HEADER + rows[0].replace("2026-11-22 14:05", "2026-11-22T06:05:00Z"),
                              "d.csv"))[0][0].event_id
    edited = read(write(tmp_path, HEADER + rows[0].replace("S001,0933128765,,1000", "S009,0958221034,,1200"),
                        "e.csv"))[0][0].event_id
    assert ids == again and len(set(ids)) == 3
    assert reordered == {"ST01-1ST01": ids[0], "ST01-2ST01": ids[1], "ST02-1ST02": ids[2]}
    assert same_instant == ids[0]  # the same moment written another way is the same event
    assert edited == ids[0]  # the id names the order, not its content: a corrected export updates nothing twice
    assert all(CanonicalEvent.model_fields["event_id"] and i.startswith("csv-") and len(i) == 36 for i in ids)


def test_unknown_columns_are_listed_not_imported(tmp_path):
    found, problems, ignored = read(write(tmp_path, "order_id,occurred_at,total,cashier_name,phon\n"
                                                    "A-1,2026-11-22 14:05,100,Amy,0933128765\n"))
    assert problems == [] and ignored == ["cashier_name", "phon"]
    assert found[0].event.customer.phone is None


# ---------------------------------------------------------------------- validation messages
def test_problems_name_the_line_and_the_csv_column_and_never_the_value(tmp_path):
    path = write(tmp_path, "order_id,occurred_at,phone,email,consent_sms,birthday,total,item_sku,item_price\n"
                           "A-1,2026-11-22 14:05,0933128765,mei@example.com,0933128765,1990-02-30,100,X,1\n"
                           "A-2,2026-11-22 14:05,0958221034,,yes,,,X,10\n"
                           "A-2,,,,,,,Y,-5\n"
                           "A 3,yesterday,0921556780,ming@example.com,,,100,,\n"
                           "A-4,2026-11-22 14:05,0972333118,lin@example.com,,,,,\n")
    found, problems, _ = read(path)
    assert found == []
    by_line = {(p.line, p.field) for p in problems}
    assert (2, "consent_sms") in by_line
    assert (4, "item_price") in by_line  # the second item's own row
    assert (5, "occurred_at") in by_line
    assert (6, "order") in by_line or any(p.line == 6 and "total" in p.problem for p in problems)
    text = "\n".join(map(str, problems))
    for value in ("0933128765", "0958221034", "0921556780", "0972333118", "mei@example.com", "ming@example.com",
                  "lin@example.com"):
        assert value not in text
    two = write(tmp_path, "order_id,occurred_at,total,birthday\nA-1,2026-11-22 14:05,100,1990-02-30\n", "b.csv")
    assert [str(p) for p in read(two)[1]] == ["line 2: birthday: Value error, not a day of the calendar"]


def test_rows_of_one_order_must_follow_each_other_and_agree(tmp_path):
    path = write(tmp_path, HEADER
                 + "ST01-1,2026-11-22 14:05,ST01,S001,0933128765,,1000,A,1,1000\n"
                 + "ST01-2,2026-11-22 14:05,ST01,S001,0958221034,,1000,A,1,1000\n"
                 + "ST01-1,,,,,,,B,1,10\n"
                 + "ST01-3,2026-11-22 14:05,ST01,S001,0921556780,,1000,A,1,1000\n"
                 + "ST01-3,,,S002,,,,B,1,10\n")
    found, problems, _ = read(path)
    assert [r.event.order.order_id for r in found] == ["ST01-1", "ST01-2"]
    assert [str(p) for p in problems] == [
        "line 4: order_id: this order's rows must follow each other: it started at line 2",
        "line 6: staff_id: differs from line 5 of the same order"]


def test_jsonl_lines_are_validated_with_the_canonical_model(tmp_path):
    good = json.loads((EVENTS / "canonical" / "pos-order-created.json").read_text())
    lines = [json.dumps(good), "", "{not json", "[1, 2]", json.dumps({**good, "occurred_at": "2026-11-22T14:05:00"}),
             json.dumps(good), json.dumps({**good, "event_id": "ec-1", "source": "EC"}),
             json.dumps({**good, "event_id": "mc-1", "customer": {"member_code": "123456789012"}}),
             json.dumps({**good, "event_id": "s-1", "source": "no such/source"})]
    found, problems, _ = read(write(tmp_path, "\n".join(lines) + "\n", "events.jsonl"))
    assert [(r.index, r.line, r.source, r.event_id) for r in found] == [
        (0, 1, "pos", good["event_id"]), (1, 7, "ec", "ec-1")]
    assert [(p.line, p.field) for p in problems] == [
        (3, ""), (4, ""), (5, "occurred_at"), (6, "event_id"), (8, "customer.member_code"), (9, "source")]
    assert "repeats the event id of line 1" in str(problems[3])
    assert "0912" not in "\n".join(map(str, problems))


def test_the_sample_files_are_valid():
    for name in ("pos-orders.csv", "events.jsonl"):
        found, problems, ignored = read(EVENTS / "import" / name)
        assert problems == [] and ignored == [] and len(found) >= 5, name
    orders = read(EVENTS / "import" / "pos-orders.csv")[0]
    assert any(len(r.event.order.items) > 1 for r in orders if r.event.order)
    assert {r.source for r in read(EVENTS / "import" / "events.jsonl")[0]} == {"pos", "ec"}


# ---------------------------------------------------------------------- checkpoint and state file
def test_checkpoint_advances_only_over_contiguous_acknowledgements():
    checkpoint = Checkpoint()
    assert not checkpoint.ack(10, 20, 21)
    assert not checkpoint.ack(30, 40, 41)
    assert (checkpoint.done, checkpoint.pending) == (0, 20)
    assert checkpoint.ack(0, 10, 11)
    assert (checkpoint.done, checkpoint.line, checkpoint.pending) == (20, 21, 10)
    assert checkpoint.ack(20, 30, 31)
    assert (checkpoint.done, checkpoint.line, checkpoint.pending) == (40, 41, 0)
    assert not checkpoint.ack(0, 10, 11)  # an old acknowledgement changes nothing


def test_state_file_resumes_only_the_same_input_for_the_same_target(tmp_path):
    data = write(tmp_path, "x" * 3000, "in.jsonl")
    state_path = tmp_path / "in.jsonl.import-state.json"
    state = StateFile(state_path, data, "http://a/webhooks/{source}")
    assert state.load() == (0, 0, [])
    checkpoint = Checkpoint(7, 9)
    state.save(checkpoint, 10, [{"line": 3}])
    assert StateFile(state_path, data, "http://a/webhooks/{source}").load() == (7, 9, [{"line": 3}])
    assert not list(tmp_path.glob("*.tmp"))
    with pytest.raises(StateMismatch, match="not http://b"):
        StateFile(state_path, data, "http://b/webhooks/{source}").load()
    data.write_text("y" * 3000)  # same size, other content
    with pytest.raises(StateMismatch, match="--restart"):
        StateFile(state_path, data, "http://a/webhooks/{source}").load()


def test_fingerprint_covers_the_tail_of_a_large_file(tmp_path):
    big = tmp_path / "big.jsonl"
    big.write_bytes(b"a" * (3 << 20))
    before = importer.fingerprint(big)
    with big.open("r+b") as handle:
        handle.seek((3 << 20) - 1)
        handle.write(b"b")
    assert importer.fingerprint(big) != before


# ---------------------------------------------------------------------- batching and the engine
def fake_records(count: int, source: str = "pos", size: int = 10) -> list[Record]:
    return [Record(i, i + 1, i + 1, source, f"e{i}", b"x" * size, None) for i in range(count)]  # type: ignore[arg-type]


def test_batches_keep_one_source_and_the_size_limits():
    stream = [*fake_records(5), Record(5, 6, 6, "ec", "e5", b"x", None), *fake_records(3)]  # type: ignore[arg-type]
    assert [len(b) for b in batches(stream, 3, 10_000)] == [3, 2, 1, 3]
    assert [len(b) for b in batches(fake_records(6, size=100), 10, 250)] == [2, 2, 2]


class FakeSender:
    max_events, max_bytes = 100, 1 << 20

    def __init__(self, fail: set[int] | None = None, delay: float = 0.0) -> None:
        self.fail = fail or set()
        self.delay = delay
        self.sent: list[str] = []
        self.lock = threading.Lock()
        self.calls = 0

    def describe(self) -> str:
        return "fake"

    def send(self, source: str, batch: list[Record]) -> Acknowledged:
        with self.lock:
            self.calls += 1
        if self.delay:
            time.sleep(self.delay * (len(batch) % 3))
        if batch[0].index in self.fail:
            raise Retry("503 Service Unavailable")
        with self.lock:
            self.sent.extend(r.event_id for r in batch)
        return Acknowledged(len(batch))


def test_a_failed_batch_stops_the_import_at_the_last_contiguous_acknowledgement():
    sender = FakeSender(fail={30})
    saved: list[int] = []
    result = Importer(sender, concurrency=4, batch_size=10, retries=1, backoff=0).run(
        fake_records(100), 100, Checkpoint(), on_save=lambda c, r: saved.append(c.done))
    assert result.error and "lines 31-40" in result.error and "after 2 attempts" in result.error
    assert result.checkpoint.done == 30 and saved[-1] == 30
    assert {f"e{i}" for i in range(30)} <= set(sender.sent)
    assert not any(f"e{i}" in sender.sent for i in range(30, 40))


def test_resuming_sends_only_what_was_not_acknowledged():
    first = FakeSender(fail={20})
    result = Importer(first, concurrency=1, batch_size=10, retries=0).run(fake_records(50), 50, Checkpoint())
    assert result.checkpoint.done == 20 and first.sent == [f"e{i}" for i in range(20)]
    second = FakeSender()
    resumed = Importer(second, concurrency=1, batch_size=10).run(fake_records(50), 50,
                                                                 Checkpoint(result.checkpoint.done))
    assert resumed.complete and resumed.resumed_from == 20 and resumed.sent == 30
    assert second.sent == [f"e{i}" for i in range(20, 50)]


def test_out_of_order_completions_still_acknowledge_everything_once():
    sender = FakeSender(delay=0.01)
    result = Importer(sender, concurrency=8, batch_size=7).run(fake_records(200), 200, Checkpoint())
    assert result.complete and result.error is None
    assert sorted(sender.sent) == sorted(f"e{i}" for i in range(200))


def test_transient_failures_are_retried_with_backoff():
    class Flaky(FakeSender):
        def send(self, source, batch):
            self.calls += 1
            if self.calls <= 2:
                raise Retry("429", after=0.25)
            return super().send(source, batch)

    waits: list[float] = []
    sender = Flaky()
    result = Importer(sender, concurrency=1, batch_size=10, retries=3, sleep=waits.append).run(
        fake_records(10), 10, Checkpoint())
    assert result.complete and sender.sent == [f"e{i}" for i in range(10)]
    assert len(waits) == 2 and all(0.25 <= w <= 0.25 * 1.25 for w in waits)  # Retry-After, with jitter


def test_a_refused_batch_is_split_until_the_refused_event_is_found():
    class Picky(FakeSender):
        def send(self, source, batch):
            if any(r.event_id == "e6" for r in batch):
                raise Refused("422 the event does not match", [{"field": "events.0.customer.birthday"}])
            return super().send(source, batch)

    sender = Picky()
    result = Importer(sender, concurrency=2, batch_size=10).run(fake_records(20), 20, Checkpoint())
    assert result.complete
    assert sorted(sender.sent) == sorted(f"e{i}" for i in range(20) if i != 6)
    assert result.acknowledged.rejected == [{"line": 7, "event_id": "e6", "reason": "422 the event does not match",
                                             "fields": ["customer.birthday"]}]


def test_a_fatal_answer_stops_at_once():
    class Locked(FakeSender):
        def send(self, source, batch):
            self.calls += 1
            raise Fatal("401 unauthenticated")

    sender = Locked()
    result = Importer(sender, concurrency=2, batch_size=10, retries=5).run(fake_records(100), 100, Checkpoint())
    assert result.error == "401 unauthenticated" and result.checkpoint.done == 0
    assert sender.calls <= 4  # what was in flight, no retries and nothing new


def test_ctrl_c_stops_sending_and_saves_what_was_acknowledged():
    sender = FakeSender()
    saved: list[int] = []
    pressed: list[int] = []

    def progress(done: int) -> None:  # runs in the main thread, where SIGINT raises
        if done >= 30 and not pressed:
            pressed.append(done)
            raise KeyboardInterrupt

    result = Importer(sender, concurrency=1, batch_size=10).run(
        fake_records(1000), 1000, Checkpoint(), on_progress=progress, on_save=lambda c, r: saved.append(c.done))
    assert result.interrupted and 30 <= result.checkpoint.done < 1000
    assert saved[-1] == result.checkpoint.done
    assert len(sender.sent) == result.checkpoint.done  # concurrency 1: what was sent was acknowledged in order


# ---------------------------------------------------------------------- the webhook sender
class FakeResponse:
    def __init__(self, status: int, body: dict | None = None, headers: dict | None = None) -> None:
        self.status_code, self._body, self.headers, self.reason = status, body, headers or {}, ""

    def json(self):
        if self._body is None:
            raise ValueError
        return self._body


class FakeSession:
    def __init__(self, answer) -> None:
        self.answer = answer
        self.posts: list[tuple[str, bytes, dict]] = []

    def post(self, url, data, headers, timeout):
        self.posts.append((url, data, headers))
        return self.answer(json.loads(data))


def test_webhook_batches_are_signed_like_a_generic_source_signs(tmp_path):
    found, _, _ = read(EVENTS / "import" / "events.jsonl")
    pos = [r for r in found if r.source == "pos"]
    session = FakeSession(lambda body: FakeResponse(202, {"accepted": [e["event_id"] for e in body["events"]]}))
    sender = WebhookSender("http://127.0.0.1:3000/", lambda source: f"{source}-secret", session_factory=lambda: session)
    assert sender.send("pos", pos).accepted == len(pos)
    url, body, headers = session.posts[0]
    assert url == "http://127.0.0.1:3000/webhooks/pos"
    assert verify_omo("pos-secret", headers["X-Omo-Timestamp"], headers["X-Omo-Signature"], body, time.time())
    sent = json.loads(body)["events"]
    assert [e["event_id"] for e in sent] == [r.event_id for r in pos] and all("source" not in e for e in sent)
    assert [CanonicalEvent.model_validate(e) for e in sent] == [r.event.model_copy(update={"source": None})
                                                                for r in pos]


@pytest.mark.parametrize(("status", "body", "headers", "raised"), [
    (202, {"accepted": []}, {}, Retry),
    (429, {"message": "Too Many Requests"}, {"Retry-After": "3"}, Retry),
    (503, {"message": "try again"}, {}, Retry),
    (413, {"message": "too large"}, {}, Refused),
    (422, {"message": "invalid", "details": [{"field": "events.0.order.total"}]}, {}, Refused),
    (401, {"message": "missing or invalid signature"}, {}, Fatal),
    (404, {"message": "unknown webhook source"}, {}, Fatal),
])
def test_webhook_answers_map_to_retry_refuse_or_stop(status, body, headers, raised):
    record = fake_records(1)[0]
    sender = WebhookSender("http://x", lambda s: "k",
                           session_factory=lambda: FakeSession(lambda _: FakeResponse(status, body, headers)))
    with pytest.raises(raised) as caught:
        sender.send("pos", [Record(0, 1, 1, "pos", "e0", b"{}", record.event)])
    if status == 429:
        assert caught.value.after == 3.0
    if status == 401:
        assert "OMO_SOURCE_SECRET_POS" in str(caught.value)


# ---------------------------------------------------------------------- progress and the command
def test_progress_bar_shows_done_total_rate_and_eta():
    now = [100.0]
    stream = io.StringIO()
    bar = ProgressBar(200, start=50, stream=stream, clock=lambda: now[0])
    now[0] = 110.0
    bar.update(100, force=True)
    assert stream.getvalue() == "import [##############..............] 100/200 events  50%  5.0 events/s  ETA 0:20\n"
    bar.update(100, force=True)  # not a terminal: the same line is not written twice
    assert stream.getvalue().count("\n") == 1
    quiet = io.StringIO()
    ProgressBar(10, stream=quiet, quiet=True).update(5, force=True)
    assert quiet.getvalue() == ""

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    bar = ProgressBar(10, stream=terminal, clock=lambda: now[0])
    for done in (1, 2, 10):
        now[0] += 1
        bar.update(done)
    bar.close()
    assert terminal.getvalue().startswith("\rimport [##...") and terminal.getvalue().endswith("ETA 0:00\n")
    assert terminal.getvalue().count("\n") == 1  # one line, redrawn in place


def test_strict_sends_nothing_when_a_line_is_invalid(tmp_path, monkeypatch, capsys):
    from infra.cli import main

    path = write(tmp_path, HEADER + "ST01-1,2026-11-22 14:05,ST01,S001,0933128765,,1000,A,1,1000\n"
                                    "ST01-2,someday,ST01,S001,0958221034,,1000,A,1,1000\n")
    monkeypatch.setattr(importer, "_sender", lambda args: pytest.fail("nothing may be sent"))
    assert main(["import", str(path), "--strict"]) == 2
    out, err = capsys.readouterr()
    assert "line 3: occurred_at" in err and "--strict: nothing was sent" in err
    assert json.loads(out)["events"] == 1
    assert main(["import", str(path), "--check"]) == 2
    assert not (tmp_path / "orders.csv.import-state.json").exists()


def test_without_a_target_the_command_says_how_to_name_one(tmp_path, monkeypatch, capsys):
    from infra.cli import main

    monkeypatch.chdir(tmp_path)  # no .omo2c-local.json here
    path = write(tmp_path, HEADER + "ST01-1,2026-11-22 14:05,ST01,S001,0933128765,,1000,A,1,1000\n")
    assert main(["import", str(path)]) == 2
    assert "no running `omo2c local` here (start it, or pass --url" in capsys.readouterr().err
