"""Member tags as the API takes and shows them: one spelling per tag, where each came from and when.

A tag is trimmed, NFKC-folded and lower-cased, then 1–40 of: ASCII letters and digits, ``:``, ``-``,
``_`` and CJK. The spelling and the purchase rules (``OMO_TAG_RULES``, ``category:<item category>`` →
tag) live in :mod:`omo2c.members.resolution`, where the resolver applies them on write: areas depend
one way, and tags sit above members.

Sources: ``webhook:<source>`` (a POS/EC event's ``customer.tags``), ``rule:<rule>`` (a purchase rule),
``staff:<id>`` or ``admin`` (the tag API), ``unmerge`` (given back when a merge was undone).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field

from omo2c.access.model import Principal
from omo2c.core.errors import InvalidEvent
from omo2c.members.resolution import TAG_MAX_LENGTH, normal_tag

TAG_RULE = "1–40 characters once trimmed and lower-cased: ASCII letters and digits, ':', '-', '_', or CJK"


@dataclass(frozen=True)
class TagRecord:
    """One tag of one member id (``holder``: the member itself, or a member it absorbed) and its provenance;
    ``source``/``at`` are None for a tag from before provenance was kept."""

    holder: str
    tag: str
    source: str | None
    at: int | None

    def view(self, member_id: str) -> dict[str, object]:
        return {"member_id": member_id, "tag": self.tag, "source": self.source, "at": iso(self.at)}


def parse_tag(raw: str) -> str:
    """The tag's one spelling, or 422 naming ``tag``."""
    tag = normal_tag(raw)
    if tag is None:
        raise InvalidEvent("not a tag", [{"field": "tag", "problem": TAG_RULE}])
    return tag


def source_of(caller: Principal) -> str:
    """Who put a tag by hand: ``admin``, or ``staff:<id>`` (a manager's API key: its key id)."""
    if caller.is_admin:
        return "admin"
    return f"staff:{caller.staff_id or caller.key_id or '-'}"


def earliest_per_tag(records: list[TagRecord]) -> list[TagRecord]:
    """A tag held under several ids (a merge) shows where it first came from."""
    first: dict[str, TagRecord] = {}
    for record in records:
        current = first.get(record.tag)
        if current is None or (record.at is not None and (current.at is None or record.at < current.at)):
            first[record.tag] = record
    return [first[t] for t in sorted(first)]


def iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _Shape(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TagView(_Shape):
    member_id: str = Field(description="The live member (an old id of a merged member leads to the survivor).")
    tag: str = Field(description="The tag as stored: trimmed, lower-case.", max_length=TAG_MAX_LENGTH)
    source: str | None = Field(description="Where it first came from: webhook:<source>, rule:<rule>, staff:<id>, "
                                           "admin; null for a tag from before provenance was kept.")
    at: str | None = Field(description="When it was first given (ISO 8601, UTC).")


class TagRemoved(_Shape):
    member_id: str
    tag: str
    removed: bool = Field(description="False when the member did not have the tag (nothing changed).")
