"""One spelling per tag, rule tags from purchases, and a bound on what one event may write."""

from __future__ import annotations

import itertools

import pytest

from omo2c.access.model import ADMIN, Principal, Role
from omo2c.core.errors import InvalidEvent
from omo2c.core.settings import Settings
from omo2c.identity.identifiers import BlockList
from omo2c.members.resolution import TAGS_PER_EVENT, Policy, Resolver, TagGrant, event_tags, normal_tag
from omo2c.sources.canonical import CanonicalEvent
from omo2c.tags.model import parse_tag, source_of
from tests.support.events import pos_order
from tests.support.memory_store import MemoryMemberStore

RULES = {"category:tea": "cat:tea", "Category:Gift": "禮盒"}


def event(event_id: str = "e1", tags: list[str] | None = None, categories: list[str] | None = None,
          type_: str = "order.created", **customer) -> CanonicalEvent:
    raw = pos_order(event_id, order_id=f"O-{event_id}", type_=type_)
    raw["customer"]["tags"] = tags or []
    raw["customer"].update(customer)
    raw["order"]["items"] = [{"sku": f"S{n}", "price": 100, "category": c} for n, c in enumerate(categories or [])]
    return CanonicalEvent.model_validate({**raw, "source": "pos"})


@pytest.mark.parametrize(("raw", "tag"), [
    ("vip", "vip"), (" VIP ", "vip"), ("ｖｉｐ", "vip"), ("cat:tea", "cat:tea"), ("a-b_c", "a-b_c"),
    ("老客戶", "老客戶"), ("x" * 40, "x" * 40),
])
def test_a_tag_has_one_spelling(raw, tag):
    assert normal_tag(raw) == tag
    assert parse_tag(raw) == tag


@pytest.mark.parametrize("raw", ["", "   ", "x" * 41, "vip gold", "vip!", "a/b", "😀", "vi\np"])
def test_anything_else_is_not_a_tag_and_the_api_names_the_field(raw):
    assert normal_tag(raw) is None
    with pytest.raises(InvalidEvent) as caught:
        parse_tag(raw)
    assert caught.value.status == 422 and caught.value.details[0]["field"] == "tag"


def test_webhook_tags_come_once_in_one_spelling_then_purchase_rule_tags():
    grants = event_tags(event(tags=["VIP", "vip", " new ", "bad!", "VIP  Customer"],
                              categories=["Tea", "tea", "gift", "coffee"]), RULES)
    assert grants == [TagGrant("vip", "webhook:pos"), TagGrant("new", "webhook:pos"),
                      TagGrant("vip-customer", "webhook:pos"),
                      TagGrant("cat:tea", "rule:category:tea"), TagGrant("禮盒", "rule:Category:Gift")]


def test_a_webhook_tag_that_a_rule_also_gives_keeps_the_webhook_as_its_source():
    assert event_tags(event(tags=["cat:tea"], categories=["tea"]), RULES) == [TagGrant("cat:tea", "webhook:pos")]


def test_refunds_and_cancellations_give_no_rule_tags():
    assert event_tags(event(categories=["tea"], type_="order.cancelled"), RULES) == []


def test_one_event_gives_at_most_the_bound():
    assert len(event_tags(event(tags=[f"t{n}" for n in range(50)]), {})) == TAGS_PER_EVENT


def test_who_put_a_tag_by_hand():
    assert source_of(ADMIN) == "admin"
    assert source_of(Principal(Role.STAFF, "S001", "ST01")) == "staff:S001"
    assert source_of(Principal(Role.MANAGER, None, "ST01", "k1")) == "staff:k1"


def _resolver(store, rules=None):
    counter = itertools.count()
    return Resolver(store, Policy(BlockList(Settings().blocked_identifiers), tag_rules=rules or {}),
                    new_id=lambda: f"m{next(counter)}", sleep=lambda _: None)


class PlanKeeper(MemoryMemberStore):
    def __init__(self):
        super().__init__()
        self.plans = []

    def commit(self, plan):
        super().commit(plan)
        self.plans.append(plan)


def test_the_resolver_plans_provenance_for_new_tags_only_on_the_exact_path():
    store = PlanKeeper()
    resolver = _resolver(store, RULES)
    resolver.record(event("e1", tags=["VIP"], categories=["tea"]))
    assert store.plans[-1].tags == [TagGrant("vip", "webhook:pos"), TagGrant("cat:tea", "rule:category:tea")]
    (member,) = store.members_by_id.values()
    assert sorted(member.tags) == ["cat:tea", "vip"]
    # An older event goes the exact path: the member has both tags already, so nothing new to record.
    older = event("e0", tags=["vip", "gold"], categories=["tea"])
    older = older.model_copy(update={"occurred_at": older.occurred_at.replace(year=2025)})
    resolver.record(older)
    assert [g.tag for g in store.plans[-1].tags] == ["gold"]
    assert sorted(store.members_by_id[member.member_id].tags) == ["cat:tea", "gold", "vip"]


def test_an_event_without_a_usable_identifier_tags_nobody():
    store = PlanKeeper()
    _resolver(store).record(event("anon", tags=["vip"], phone=None))
    assert store.plans[-1].tags == [] and not store.members_by_id
