"""What a campaign did, per run and per channel, from each run's own partition and its links' counters.

Selected, sent, failed and skipped by reason come from the send rows (a scheduled run's planning skips
from its summary); blocked, unsubscribed, bounced and complained from the feedback rows; clicks from
the run's counted links; conversions, revenue and the rates from the conversion rows. The conversion
rate is converted members over members sent to; the repurchase rate the same among members who had
ordered before the message.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import islice
from typing import Any, Protocol

from omo2c.campaigns.model import Campaign
from omo2c.campaigns.rules import links_in
from omo2c.core.errors import InvalidEvent
from omo2c.core.spreadsheet import spreadsheet_cell
from omo2c.links.model import campaign_link_codes, target_url

CHANNELS = ("line", "sms", "email")
FEEDBACK = ("blocked", "unsubscribed", "bounced", "complained")


class Rows(Protocol):
    def runs(self, campaign_id: str) -> list[dict[str, Any]]: ...
    def run_rows(self, campaign_id: str, run_id: str) -> Any: ...


class LinkCounts(Protocol):
    def campaign_counts(self, codes: list[str]) -> dict[str, dict[str, int]]: ...


@dataclass
class Tally:
    """The additive parts of a KPI block: runs and channels sum into totals before rates are taken."""

    selected: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    feedback: Counter[str] = field(default_factory=Counter)
    clicks: Counter[str] = field(default_factory=Counter)
    conversions: int = 0
    revenue: Decimal = Decimal(0)
    sent_members: set[str] = field(default_factory=set)
    repeat_members: set[str] = field(default_factory=set)
    converted: set[str] = field(default_factory=set)
    converted_repeat: set[str] = field(default_factory=set)

    def add(self, other: Tally, prefix: str = "") -> None:
        self.selected += other.selected
        self.statuses.update(other.statuses)
        self.skipped.update(other.skipped)
        self.feedback.update(other.feedback)
        self.clicks.update(other.clicks)
        self.conversions += other.conversions
        self.revenue += other.revenue
        self.sent_members |= {prefix + m for m in other.sent_members}
        self.repeat_members |= {prefix + m for m in other.repeat_members}
        self.converted |= {prefix + m for m in other.converted}
        self.converted_repeat |= {prefix + m for m in other.converted_repeat}

    def view(self) -> dict[str, Any]:
        return {
            "selected": self.selected, "sent": self.statuses["sent"], "failed": self.statuses["failed"],
            "sending": self.statuses["sending"], "skipped": dict(sorted(self.skipped.items())),
            **{kind: self.feedback[kind] for kind in FEEDBACK},
            "clicks": self.clicks["clicks"], "bot_clicks": self.clicks["bot_clicks"],
            "conversions": self.conversions, "converted_members": len(self.converted), "revenue": str(self.revenue),
            "conversion_rate": _rate(len(self.converted), len(self.sent_members)),
            "repurchase_rate": _rate(len(self.converted_repeat), len(self.repeat_members)),
        }


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def run_tallies(run: dict[str, Any], rows: Any, clicks: dict[str, Counter[str]]) -> tuple[Tally, dict[str, Tally]]:
    """The run's totals and its per-channel tallies."""
    channels: dict[str, Tally] = {c: Tally() for c in CHANNELS}
    for send in rows.sends:
        tally = channels.setdefault(send.channel or "none", Tally())
        tally.selected += 1
        tally.statuses[send.status] += 1
        if send.status == "skipped":
            tally.skipped[send.reason or "unknown"] += 1
        if send.status == "sent":
            tally.sent_members.add(send.member_id)
            if send.prior_orders:
                tally.repeat_members.add(send.member_id)
    for feedback in rows.feedback:
        channels.setdefault(feedback["channel"], Tally()).feedback[feedback["kind"]] += 1
    for conversion in rows.conversions:
        tally = channels.setdefault(conversion["channel"] or "none", Tally())
        tally.conversions += 1
        tally.revenue += conversion["revenue"]
        tally.converted.add(conversion["member_id"])
        if conversion["repeat"]:
            tally.converted_repeat.add(conversion["member_id"])
    for channel, counted in clicks.items():
        channels.setdefault(channel, Tally()).clicks.update(counted)
    total = Tally()
    for tally in channels.values():
        total.add(tally)
    # a journey's members are its send rows; a scheduled run also counts those its planning left out
    total.selected = total.selected if run.get("journey") else run["selected"]
    total.skipped.update(run.get("skipped") or {})
    return total, channels


def _clicks(campaign: Campaign, run_id: str, links: LinkCounts | None) -> dict[str, Counter[str]]:
    """Each channel's link counters for the run (links are derived from the run, channel and URL)."""
    urls = links_in(campaign.message)
    if links is None or not urls:
        return {}
    codes = {}
    for channel in campaign.channels:
        for url in urls:
            try:
                target = target_url(url)
            except InvalidEvent:
                continue  # sent as written, never counted
            for code in islice(campaign_link_codes(campaign.campaign_id, run_id, channel, target), 2):
                codes[code] = channel
    counts = links.campaign_counts(list(codes))
    out: dict[str, Counter[str]] = {}
    for code, counted in counts.items():
        out.setdefault(codes[code], Counter()).update(counted)
    return out


def campaign_report(campaign: Campaign, store: Rows, links: LinkCounts | None,
                    coupons: dict[str, Any]) -> dict[str, Any]:
    runs, totals = [], Tally()
    for run in sorted(store.runs(campaign.campaign_id), key=lambda r: r["started_at"]):
        rows = store.run_rows(campaign.campaign_id, run["run_id"])
        total, channels = run_tallies(run, rows, _clicks(campaign, run["run_id"], links))
        totals.add(total, prefix=f"{run['run_id']}/")
        runs.append({"run_id": run["run_id"], "started_at": run["started_at"], "trigger": run["trigger"],
                     **total.view(),
                     "sent_by_channel": {c: t.statuses["sent"] for c, t in channels.items() if t.statuses["sent"]},
                     "channels": {c: channels[c].view() for c in CHANNELS if c in campaign.channels or
                                  channels[c].selected}})
    return {"campaign_id": campaign.campaign_id, "name": campaign.name, "status": campaign.status,
            "totals": totals.view(), "runs": runs, "coupons": coupons}


CSV_COLUMNS = ("run_id", "started_at", "trigger", "channel", "selected", "sent", "failed", "skipped", "blocked",
               "clicks", "unsubscribed", "bounced", "complained", "conversions", "converted_members", "revenue",
               "conversion_rate", "repurchase_rate")


def report_csv(report: dict[str, Any]) -> str:
    """One row per run and channel, one per run (channel ``all``), and the campaign's totals."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)

    def row(run: dict[str, Any], channel: str, kpi: dict[str, Any]) -> None:
        values = {**kpi, "run_id": run.get("run_id", "total"), "started_at": run.get("started_at", ""),
                  "trigger": run.get("trigger", ""), "channel": channel,
                  "skipped": sum(kpi["skipped"].values())}
        writer.writerow([spreadsheet_cell(values[c]) for c in CSV_COLUMNS])

    for run in report["runs"]:
        row(run, "all", run)
        for channel, kpi in run["channels"].items():
            row(run, channel, kpi)
    row({}, "all", report["totals"])
    return out.getvalue()
