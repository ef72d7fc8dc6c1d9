"""Tags in the members table: the member's ``tags`` set (the fast answer), one provenance item per tag
(pk=MEMBER#<id>, sk=TAG#<tag>) and one audience item per tag and member
(pk=AUDIENCE#tag:<tag>#<shard>, sk=MEMBER#<id>), always written and removed together in one transaction.

Tier audiences are the ByTier index of member items (``tier_key`` = ``<tier>#<shard>``, set by the
loyalty area); both spread a tier or tag over 16 shards so no partition holds a whole segment.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from pynamodb.exceptions import DoesNotExist, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from omo2c.core.dynamo import configure
from omo2c.core.errors import Conflict, NotFound
from omo2c.core.settings import Settings
from omo2c.loyalty.storage import MemberTierPart, tier_index
from omo2c.members.model import Member
from omo2c.members.resolution import TRANSACTION_ITEMS, normal_tag
from omo2c.members.storage import (
    AUDIENCE_SHARDS,
    AudienceItem,
    MemberItem,
    TagItem,
    drop_tag,
    grant_tag,
    member_from_item,
    member_key,
    tag_items,
)
from omo2c.tags.model import TagRecord

TAG_MODELS = (MemberItem, TagItem, AudienceItem, MemberTierPart)


def _live_set() -> Any:
    """The member is live and its tags are a string set (or none yet), so ADD and DELETE apply."""
    return (MemberItem.status == "live") & (MemberItem.tags.does_not_exist() | MemberItem.tags.is_type())


def _record(item: TagItem) -> TagRecord:
    return TagRecord(item.member_id, item.tag, item.source, int(item.at) if item.at is not None else None)


class TagStore:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        configure(settings, TAG_MODELS)

    # ------------------------------------------------------------------ one member's tags
    def tags(self, member_id: str, absorbed: Sequence[str] = ()) -> list[TagRecord]:
        """Provenance under the member's id and the ids it absorbed (merges leave them where they were)."""
        return [_record(i) for holder in [member_id, *absorbed] for i in tag_items(holder)]

    def record(self, member_id: str, tag: str) -> TagRecord | None:
        try:
            return _record(TagItem.get(f"MEMBER#{member_id}", f"TAG#{tag}", consistent_read=True))
        except DoesNotExist:
            return None

    def put(self, member_id: str, tag: str, source: str, at: int) -> TagRecord:
        """Add the tag to the live member's set with its provenance and audience item (the first source and time
        are kept, so a second put changes nothing); the stored record."""
        def build(tx: TransactWrite) -> None:
            tx.update(MemberItem(*member_key(member_id)), actions=[MemberItem.tags.add({tag})],
                      condition=_live_set())
            grant_tag(tx, member_id, tag, source, at)

        self._write(member_id, build)
        stored = self.record(member_id, tag)
        if stored is None:
            raise Conflict("the tag changed concurrently")
        return stored

    def delete(self, member_id: str, tag: str, holders: Sequence[str] = ()) -> None:
        """Take the tag off the live member's set and remove its provenance and audience items under every id
        that holds them (the member's own and those of members it absorbed)."""
        ids = list(dict.fromkeys([member_id, *holders]))[:(TRANSACTION_ITEMS - 1) // 2]

        def build(tx: TransactWrite) -> None:
            tx.update(MemberItem(*member_key(member_id)), actions=[MemberItem.tags.delete({tag})],
                      condition=_live_set())
            for holder in ids:
                drop_tag(tx, holder, tag)

        self._write(member_id, build)

    def _write(self, member_id: str, build: Callable[[TransactWrite], None]) -> None:
        for attempt in range(2):
            try:
                with TransactWrite(connection=MemberItem._get_connection().connection) as tx:
                    build(tx)
                return
            except TransactWriteError as exc:
                if attempt or not self._tags_were_a_list(member_id):
                    raise Conflict("the member changed concurrently") from exc

    def _tags_were_a_list(self, member_id: str) -> bool:
        """Items from before kept tags as a list: make it a set once (so ADD/DELETE apply), else the member is
        gone or merged (404, or 409 to read it again)."""
        client = MemberItem._get_connection().connection.client
        pk, sk = member_key(member_id)
        raw = client.get_item(TableName=MemberItem.Meta.table_name, Key={"pk": {"S": pk}, "sk": {"S": sk}},
                              ConsistentRead=True).get("Item")
        if raw is None:
            raise NotFound("no such member")
        stored = raw.get("tags", {})
        if raw.get("status", {}).get("S") != "live" or "L" not in stored:
            return False
        tags = {e["S"] for e in stored["L"] if "S" in e}
        try:
            MemberItem(pk, sk).update(actions=[MemberItem.tags.set(tags) if tags else MemberItem.tags.remove()],
                                      condition=MemberItem.version == int(raw["version"]["N"]))
        except UpdateError:
            return False  # changed meanwhile: 409, and the retry finds a set
        return True

    # ------------------------------------------------------------------ audiences
    def audience(self, kind: str, value: str) -> list[str]:
        """The member ids of a tag's audience items or a tier's index entries, shard by shard (never a scan).
        Ids of merged members may be among them: reading the members follows them to the survivor."""
        if kind == "tag":
            return [i.member_id for i in self._audience_items(value)]
        if kind == "tier":
            return [str(raw["member_id"]["S"]) for raw in tier_index(value)]
        raise ValueError(f"no audience of kind {kind!r}")

    def tier_members(self, tier_id: str) -> list[Member]:
        """A tier's members whole, from the index (projection ALL): no second read."""
        return [member_from_item(MemberItem.from_raw_data(raw)) for raw in tier_index(tier_id)]

    def _audience_items(self, tag: str) -> Iterator[AudienceItem]:
        for shard in range(AUDIENCE_SHARDS):
            yield from AudienceItem.query(f"AUDIENCE#tag:{tag}#{shard}")

    # ------------------------------------------------------------------ once, for members from before provenance
    def backfill(self, segment: int = 0, total_segments: int = 1) -> tuple[int, int]:
        """Give every live member's tags their one spelling, provenance (source ``legacy``, at the member's
        creation: the real time is unknown) and audience items: tags written before this existed are in no
        audience. Idempotent; run once per segment of a parallel scan, again for members that changed meanwhile.
        Members done, members to do again."""
        done = again = 0
        step = (TRANSACTION_ITEMS - 1) // 2
        for item in MemberItem.scan(MemberItem.sk == "PROFILE", segment=segment, total_segments=total_segments):
            if item.status != "live" or not item.tags:
                continue
            tags = sorted({t for t in (normal_tag(raw) for raw in item.tags) if t is not None})
            try:
                for start in range(0, max(len(tags), 1), step):
                    chunk = tags[start:start + step]
                    with TransactWrite(connection=MemberItem._get_connection().connection) as tx:
                        actions = [MemberItem.tags.set(set(tags)) if tags else MemberItem.tags.remove()]
                        tx.update(MemberItem(item.pk, item.sk), actions=actions,
                                  condition=(MemberItem.status == "live") & (MemberItem.version == item.version))
                        for tag in chunk:
                            grant_tag(tx, item.member_id, tag, "legacy", int(item.created_at))
                done += 1
            except TransactWriteError:
                again += 1
        return done, again
