"""Make moto (5.2, the version this was read against) behave and cost what AWS does: speed only, the same
answers. Each patch below says what moto does that grows or repeats, and what is done instead.

moto backs up every table a transaction names by deep-copying the *whole table*, once per
item in the transaction, so each TransactWriteItems grows with the table (seconds per call at
a few thousand items). Here the backup covers only the touched items; a failed transaction
restores exactly those. The behaviour seen by callers is unchanged: all-or-nothing, same errors.

moto also applies a transaction item by item while other threads (the local run's gateway
and pollers, moto's own request threads) read, so a reader could see half of one. DynamoDB
never shows that: every DynamoDB request here runs under :data:`DYNAMODB_LOCK`, one at a time.
:func:`dynamodb_writes` counts the requests that may have changed data, for the local run's saver.

moto answers every Query by sorting *all* items of the table, then keeping those of the partition (or,
on an index, of the index's partition): each Query costs more as the table fills. :func:`_install_query`
hands moto's own Query code only the partition's items (from the table's hash-key dict), or, on a global
secondary index, the items of the index's partition (from a map kept up to date from the keys each
write touched); moto still filters and sorts them, so results, pages and errors are its own.

moto builds an item attribute by attribute, re-measuring the whole item before each one (against the
400 KB limit): quadratic in its attributes. :func:`_install_items` measures each attribute once, in the same
order, and refuses the item at the same attribute. Its update-expression traversers rebuild their node
map twice per node of the expression tree; each traverser here builds it once.

moto's server finds the service of every request by listing moto's package directory on disk (a
``stat`` per service, under one lock for all requests) and trying some 300 URL patterns;
:func:`_install_server_routing` lists the directory once and remembers each host's service.

moto's SQS walks every message of a queue on each send (queue attributes are recomputed, three
counts of the whole queue), on each message received (the retention check reads the attributes
again, three times) and on each delete or visibility change (a scan for the receipt handle, then a
rebuilt list): a pipeline gets slower with every message waiting. :func:`_install_sqs` keeps what
those scans look for instead: each queue's messages as a set next to the list, the messages whose
visibility or delay may still lie ahead, and receipt handles to their message. Every answer is the
one moto would give (same counts, errors, visibility timeouts, redrive to the dead-letter queue).

moto's EventBridge compiles the same eight JSONPath expressions again for every target of every
event (a fresh parser each time); :func:`_install_events` compiles each once.

moto's response handlers look up, on every request, whether the action names one of their methods by
listing every member of the handler's class (``inspect.getmembers``, hundreds of attributes through the
class's MRO). :func:`_install_responses` lists them once per class, again only if a class of the MRO
changes its attributes.

moto's response serialiser finds each member of each structure it writes by asking six alias
providers for candidate keys, for every value: a DynamoDB item of twenty attributes costs hundreds
of those look-ups. For a plain dict the candidates depend only on the shape, so
:func:`_install_serializer` asks the same providers once per shape member and remembers the answer.
"""

from __future__ import annotations

import copy
import functools
import json
import threading
import weakref
from collections.abc import Iterator
from typing import Any

_state = threading.local()
_installed = False
DYNAMODB_LOCK = threading.RLock()
_READS = frozenset({"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems", "DescribeTable", "ListTables",
                    "DescribeTimeToLive", "DescribeEndpoints", "DescribeLimits", "ListTagsOfResource"})
_writes = 0


def dynamodb_writes() -> int:
    """How many DynamoDB requests that may have changed data moto has served (reads not counted)."""
    return _writes


def install() -> None:
    global _installed
    if _installed:
        return
    _install_dynamodb()
    _install_items()
    _install_query()
    _install_sqs()
    _install_events()
    _install_serializer()
    _install_server_routing()
    _install_responses()
    _installed = True


def _install_dynamodb() -> None:
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.responses import DynamoHandler

    def table_deepcopy(self: Table, memo: dict[int, Any]) -> Table:
        if getattr(_state, "transaction", False):
            return self
        clone = self.__class__.__new__(self.__class__)
        memo[id(self)] = clone
        for name, value in self.__dict__.items():
            setattr(clone, name, copy.deepcopy(value, memo))
        return clone

    original = DynamoDBBackend.transact_write_items

    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        touched = []
        for entry in transact_items:
            _, op = next(iter(entry.items()))
            table = self.tables.get(op.get("TableName"))
            if table is None:
                continue
            key = op.get("Key") or op.get("Item") or {}
            if table.hash_key_attr not in key:
                continue
            hash_key = DynamoType(key[table.hash_key_attr])
            range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr in key else None
            touched.append((table, hash_key, range_key, copy.deepcopy(table.get_item(hash_key, range_key))))
        _state.transaction = True
        try:
            original(self, transact_items)
        except BaseException:
            for table, hash_key, range_key, before in reversed(touched):
                _restore(table, hash_key, range_key, before)
                _touch(table, (hash_key, range_key))
            raise
        finally:
            _state.transaction = False

    call = DynamoHandler.call_action

    def call_action(self: DynamoHandler) -> Any:
        """One DynamoDB request at a time, its response serialised inside: no torn reads."""
        global _writes
        with DYNAMODB_LOCK:
            if self._get_action() not in _READS:
                _writes += 1
            return call(self)

    Table.__deepcopy__ = table_deepcopy
    DynamoDBBackend.transact_write_items = transact_write_items
    DynamoHandler.call_action = call_action


def _restore(table: Any, hash_key: Any, range_key: Any, before: Any) -> None:
    if table.range_key_attr is not None:
        bucket = table.items[hash_key]
        if before is None:
            bucket.pop(range_key, None)
            if not bucket:
                table.items.pop(hash_key, None)
        else:
            bucket[range_key] = before
    elif before is None:
        table.items.pop(hash_key, None)
    else:
        table.items[hash_key] = before




def _install_items() -> None:
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models import dynamo_type
    from moto.dynamodb.models.dynamo_type import DynamoType, Item
    from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser

    item_init = Item.__init__
    limit = 405000  # moto's LimitedSizeDict limit

    def init(self: Item, hash_key: Any, range_key: Any, attrs: dict[str, Any]) -> None:
        """moto's ``Item.__init__``, the size so far kept instead of summed again for every attribute."""
        item_init(self, hash_key, range_key, {})
        size = 0
        for key, value in attrs.items():
            value = DynamoType(value)
            added = dynamo_type.bytesize(key) + value.size()
            if size + added > limit:
                raise ItemSizeTooLarge
            dict.__setitem__(self.attrs, key, value)
            size += added

    def processing_map(self: Any) -> dict[Any, Any]:
        found = self.__dict__.get("_omo_processing_map")
        if found is None:
            found = self.__dict__["_omo_processing_map"] = self._processing_map()
        return found

    def nodes_to_be_processed(self: Any) -> tuple[Any, ...]:
        """The node classes this traverser processes, from its (fixed) processing map, built once."""
        found = self.__dict__.get("_omo_node_classes")
        if found is None:
            found = self.__dict__["_omo_node_classes"] = tuple(processing_map(self))
        return found

    def process(self: Any, node: Any) -> Any:
        for class_key, processor in processing_map(self).items():
            if isinstance(node, class_key):
                return processor(node)
        return None

    Item.__init__ = init
    DepthFirstTraverser.nodes_to_be_processed = nodes_to_be_processed
    DepthFirstTraverser.process = process


# ---------------------------------------------------------------------- DynamoDB Query
class _IndexMap:
    """For one table: per global secondary index, the primary keys of the items under each value of the
    index's hash key(s); brought up to date, on the next Query of an index, from the keys written since."""

    def __init__(self, items: Any) -> None:
        self.items = items  # the table's item dict it describes (moto replaces it on a restore)
        self.touched: set[tuple[Any, Any]] = set()
        self.keys: dict[str, list[str]] = {}  # index -> its hash key attributes
        self.entries: dict[str, dict[tuple[Any, ...], set[tuple[Any, Any]]]] = {}
        self.placed: dict[str, dict[tuple[Any, Any], tuple[Any, ...] | None]] = {}
        self.unhashable: dict[str, set[tuple[Any, Any]]] = {}  # not a scalar: a candidate of every Query

    def place(self, name: str, pk: tuple[Any, Any], item: Any) -> None:
        old = self.placed[name].pop(pk, None)
        if old is not None:
            bucket = self.entries[name].get(old)
            if bucket is not None:
                bucket.discard(pk)
                if not bucket:
                    del self.entries[name][old]
        self.unhashable[name].discard(pk)
        if item is None:
            return
        values = tuple(item.attrs.get(attribute) for attribute in self.keys[name])
        if any(value is None for value in values):
            return  # not in the index: moto's Query would skip it too
        try:
            hash(values)
        except TypeError:
            self.unhashable[name].add(pk)
            return
        self.entries[name].setdefault(values, set()).add(pk)
        self.placed[name][pk] = values


def _touch(table: Any, pk: tuple[Any, Any]) -> None:
    """``pk`` of ``table`` may have changed: re-index it before the next index Query."""
    index_map = table.__dict__.get("_omo_index_map")
    if index_map is not None:
        index_map.touched.add(pk)


def _current(table: Any, pk: tuple[Any, Any]) -> Any:
    from moto.dynamodb.models.dynamo_type import Item

    hash_key, range_key = pk
    found = table.items.get(hash_key)
    if table.range_key_attr is not None:
        found = found.get(range_key) if isinstance(found, dict) else None
    return found if isinstance(found, Item) else None


def _every_item(table: Any) -> Iterator[tuple[tuple[Any, Any], Any]]:
    from moto.dynamodb.models.dynamo_type import Item

    for bucket in list(table.items.values()):
        for item in list(bucket.values()) if isinstance(bucket, dict) else [bucket]:
            if isinstance(item, Item):
                yield (item.hash_key, item.range_key), item


def _index_candidates(table: Any, index: Any, conditions: Any) -> list[Any] | None:
    """Every item of ``table`` under ``conditions`` on ``index``'s hash key(s) (a superset moto's Query then
    filters), or None when the conditions do not name exactly those keys."""
    keys = [k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"]
    wanted = dict(conditions or [])
    if not keys or sorted(wanted) != sorted(keys):
        return None
    index_map = table.__dict__.get("_omo_index_map")
    if index_map is None or index_map.items is not table.items:
        index_map = table.__dict__["_omo_index_map"] = _IndexMap(table.items)
    name = index.name
    if index_map.keys.get(name) != keys:
        index_map.keys[name], index_map.entries[name], index_map.placed[name] = keys, {}, {}
        index_map.unhashable[name] = set()
        for pk, item in _every_item(table):
            index_map.place(name, pk, item)
    if index_map.touched:
        touched, index_map.touched = index_map.touched, set()
        for pk in touched:
            item = _current(table, pk)
            for built in index_map.keys:
                index_map.place(built, pk, item)
    values = tuple(wanted[attribute] for attribute in keys)
    try:
        pks = set(index_map.entries[name].get(values, ()))
    except TypeError:
        return None
    pks |= index_map.unhashable[name]
    return [item for item in (_current(table, pk) for pk in pks) if item is not None]


def _install_query() -> None:
    import inspect

    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType, Item
    from moto.dynamodb.models.table import Table

    query, all_items = Table.query, Table.all_items
    signature = inspect.signature(query)

    def table_query(self: Table, *args: Any, **kwargs: Any) -> Any:
        """moto's Query, given only the items that can match instead of the whole table, sorted."""
        bound = signature.bind(self, *args, **kwargs).arguments
        index_name, hash_key = bound.get("index_name"), bound.get("hash_key")
        items: list[Any] | None = None
        if not index_name and hash_key is not None:
            bucket = self.items.get(hash_key)  # the partition moto's filter would keep, in any order: it sorts
            items = list(bucket.values()) if isinstance(bucket, dict) else [bucket] if isinstance(bucket, Item) else []
        elif index_name:
            index = next((i for i in self.all_indexes() if i.name == index_name), None)
            if index is not None and index in (self.global_indexes or []):
                items = _index_candidates(self, index, bound.get("hash_key_conditions"))
        if items is None:
            return query(self, *args, **kwargs)
        _state.query_items = (self, items)
        try:
            return query(self, *args, **kwargs)
        finally:
            _state.query_items = None

    def table_all_items(self: Table) -> list[Any]:
        hint = getattr(_state, "query_items", None)
        if hint is not None and hint[0] is self:
            _state.query_items = None
            return hint[1]
        return all_items(self)

    put_item, delete_item = Table.put_item, Table.delete_item

    def table_put_item(self: Table, *args: Any, **kwargs: Any) -> Any:
        item = put_item(self, *args, **kwargs)
        _touch(self, (item.hash_key, item.range_key))
        return item

    def table_delete_item(self: Table, hash_key: Any, range_key: Any) -> Any:
        try:
            return delete_item(self, hash_key, range_key)
        finally:
            _touch(self, (hash_key, range_key))

    update_item = DynamoDBBackend.update_item

    def backend_update_item(self: DynamoDBBackend, table_name: str, key: Any, *args: Any, **kwargs: Any) -> Any:
        """moto updates an item in place: note its key for the index maps, whatever happened."""
        try:
            return update_item(self, table_name, key, *args, **kwargs)
        finally:
            table = self.tables.get(table_name)
            if table is not None and isinstance(key, dict) and table.hash_key_attr in key:
                range_key = key.get(table.range_key_attr) if table.range_key_attr else None
                _touch(table, (DynamoType(key[table.hash_key_attr]),
                               DynamoType(range_key) if range_key is not None else None))
            elif table is not None:
                table.__dict__.pop("_omo_index_map", None)  # a key not seen before: start again

    Table.query = table_query
    Table.all_items = table_all_items
    Table.put_item = table_put_item
    Table.delete_item = table_delete_item
    DynamoDBBackend.update_item = backend_update_item


# ---------------------------------------------------------------------- SQS
class _MessageList(list):  # type: ignore[type-arg]
    """A queue's ``_messages`` (still the list moto appends to, removes from and iterates, in order), which
    also knows its members (``members``: message -> times present) and those of them whose visibility
    timeout or delay may not have passed yet (``timed``), so that counting and finding take no scan."""

    __slots__ = ("__weakref__", "lock", "members", "timed")

    def __init__(self, messages: Any = ()) -> None:
        super().__init__(messages)
        self.members: dict[Any, int] = {}
        self.timed: set[Any] = set()
        self.lock = threading.Lock()
        for message in self:
            self._enter(message)

    def _enter(self, message: Any) -> None:
        self.members[message] = self.members.get(message, 0) + 1
        message._omo_list = weakref.ref(self)
        if message.visible_at or message.delayed_until:
            with self.lock:
                self.timed.add(message)

    def _leave(self, message: Any) -> None:
        left = self.members.get(message, 0) - 1
        if left > 0:
            self.members[message] = left
            return
        self.members.pop(message, None)
        with self.lock:
            self.timed.discard(message)

    def append(self, message: Any) -> None:
        self._enter(message)  # a member before it can be seen in the list
        super().append(message)

    def insert(self, index: Any, message: Any) -> None:
        self._enter(message)
        super().insert(index, message)

    def extend(self, messages: Any) -> None:
        messages = list(messages)
        for message in messages:
            self._enter(message)
        super().extend(messages)

    def __iadd__(self, messages: Any) -> _MessageList:
        self.extend(messages)
        return self

    def remove(self, message: Any) -> None:
        super().remove(message)
        self._leave(message)

    def pop(self, index: Any = -1) -> Any:
        message = super().pop(index)
        self._leave(message)
        return message

    def clear(self) -> None:
        for message in list(self):
            self._leave(message)
        super().clear()

    def __setitem__(self, index: Any, value: Any) -> None:
        super().__setitem__(index, value)
        self._rebuild()

    def __delitem__(self, index: Any) -> None:
        super().__delitem__(index)
        self._rebuild()

    def _rebuild(self) -> None:
        with self.lock:
            self.members, self.timed = {}, set()
        for message in self:
            self._enter(message)

    def mark_timed(self, message: Any) -> None:
        """``message`` (if still a member) got a visibility timeout or a delay."""
        if message in self.members:
            self.timed.add(message)

    def counts(self) -> tuple[int, int, int]:
        """(visible and not delayed, not visible, delayed), as moto's three list scans count them."""
        from moto.core.utils import unix_time_millis

        now = unix_time_millis()
        not_visible = delayed = hidden = 0
        with self.lock:
            for message in list(self.timed):
                invisible, late = not now > message.visible_at, now < message.delayed_until
                if not (invisible or late):
                    self.timed.discard(message)  # both moments passed: visible from now on, until changed
                    continue
                not_visible += invisible
                delayed += late
                hidden += 1
        return len(self) - hidden, not_visible, delayed


class _VisibleMessages:
    """``Queue.messages``: moto builds the list of every visible message to take the first few from it.
    Here they are found as the loop goes (oldest first, as in the list); its length and truth come
    from the counts."""

    __slots__ = ("_queue",)

    def __init__(self, queue: Any) -> None:
        self._queue = queue

    def __iter__(self) -> Iterator[Any]:
        for message in self._queue._messages:
            if message.visible and not message.delayed:
                yield message

    def __len__(self) -> int:
        return self._queue._messages.counts()[0]

    def __bool__(self) -> bool:
        return len(self) > 0


_HANDLES: weakref.WeakValueDictionary[str, Any] = weakref.WeakValueDictionary()


def _owner(message: Any) -> _MessageList | None:
    ref = message.__dict__.get("_omo_list")
    return ref() if ref is not None else None


def _held(queue: Any, receipt_handle: str) -> Any:
    """The message of ``queue`` this receipt handle was given for, or None (moto's own search decides then)."""
    message = _HANDLES.get(receipt_handle)
    if message is None or message not in queue._messages.members or not message.had_receipt_handle(receipt_handle):
        return None
    return message


def _install_sqs() -> None:
    from moto.core.utils import unix_time
    from moto.sqs import models
    from moto.sqs.exceptions import InvalidParameterValue
    from moto.sqs.models import Message, Queue, SQSBackend

    def get_messages(self: Queue) -> _MessageList:
        found = self.__dict__.get("_omo_messages")
        if found is None:  # a queue made before install(): adopt its list
            found = self.__dict__["_omo_messages"] = _MessageList(self.__dict__.pop("_messages", []))
        return found

    def set_messages(self: Queue, messages: list[Any]) -> None:
        old = self.__dict__.get("_omo_messages")
        if old is not None:
            with old.lock:
                old.timed.clear()
        self.__dict__["_omo_messages"] = messages if isinstance(messages, _MessageList) else _MessageList(messages)

    change_visibility, delay, mark_received = Message.change_visibility, Message.delay, Message.mark_received

    def timed(original: Any) -> Any:
        @functools.wraps(original)
        def wrapper(self: Message, *args: Any, **kwargs: Any) -> None:
            owner = _owner(self)
            if owner is None:
                original(self, *args, **kwargs)
                return
            with owner.lock:  # the counts never see the new moment without the message among the timed
                original(self, *args, **kwargs)
                owner.mark_timed(self)
        return wrapper

    def message_mark_received(self: Message, visibility_timeout: int | None = None) -> None:
        mark_received(self, visibility_timeout)
        _HANDLES[self.receipt_handle] = self  # type: ignore[index]

    queue_delete = Queue.delete_message

    def delete_message(self: Queue, receipt_handle: str) -> None:
        """Find the message by its receipt handle (any it ever had) instead of testing every message."""
        if receipt_handle in self.deleted_messages:
            return
        message = _held(self, receipt_handle)
        if message is None:
            queue_delete(self, receipt_handle)  # not one of ours: moto's own search, and its error
            return
        messages = self._messages
        while message in messages.members:
            messages.remove(message)
        self.pending_messages.discard(message)
        self.deleted_messages.update(message.all_receipt_handles)

    backend_change_visibility = SQSBackend.change_message_visibility

    def change_message_visibility(self: SQSBackend, queue_name: str, receipt_handle: str,
                                  visibility_timeout: int) -> None:
        """moto's, with the message found by its receipt handle instead of by testing every message."""
        queue = self.get_queue(queue_name)
        message = _held(queue, receipt_handle)
        if message is None:
            backend_change_visibility(self, queue_name, receipt_handle, visibility_timeout)
            return
        visibility_timeout_msec = int(visibility_timeout) * 1000
        given_visibility_timeout = models.unix_time_millis() + visibility_timeout_msec
        if given_visibility_timeout - message.sent_timestamp > 43200 * 1000:
            raise InvalidParameterValue(
                f"Value {visibility_timeout} for parameter VisibilityTimeout is invalid. Reason: Total "
                "VisibilityTimeout for the message is beyond the limit [43200 seconds]")
        message.change_visibility(visibility_timeout)
        if message.visible and message in queue.pending_messages:
            queue.pending_messages.remove(message)

    def is_message_valid_based_on_retention_period(self: SQSBackend, queue_name: str, message: Message) -> bool:
        """The queue's retention period read as the attribute it is, not by rebuilding every attribute."""
        retention_period = self.get_queue(queue_name).message_retention_period
        return bool(retention_period + message.sent_timestamp / 1000 > unix_time())

    Queue._messages = property(get_messages, set_messages)
    Queue.messages = property(lambda self: _VisibleMessages(self))
    Queue.approximate_number_of_messages = property(lambda self: self._messages.counts()[0])
    Queue.approximate_number_of_messages_not_visible = property(lambda self: self._messages.counts()[1])
    Queue.approximate_number_of_messages_delayed = property(lambda self: self._messages.counts()[2])
    Queue.delete_message = delete_message
    Message.change_visibility = timed(change_visibility)
    Message.delay = timed(delay)
    Message.mark_received = message_mark_received
    SQSBackend.change_message_visibility = change_message_visibility
    SQSBackend.is_message_valid_based_on_retention_period = is_message_valid_based_on_retention_period
    # Queue.attributes looks up ~15 attribute names a call; the conversion is pure, so remember it
    models.camelcase_to_underscores = functools.cache(models.camelcase_to_underscores)


# ---------------------------------------------------------------------- EventBridge
def _install_events() -> None:
    from moto.events import utils

    @functools.cache
    def compiled(path: str) -> Any:
        from jsonpath_ng.ext import parse

        return parse(path)

    def parse(input_template: str, input_paths_map: dict[str, Any], event: Any) -> dict[str, Any]:
        """moto's ``EventTemplateParser.parse``, each JSONPath compiled once (a compiled path is not changed
        by ``find``)."""
        parser = utils.EventTemplateParser
        template_to_use = input_template or parser.DEFAULT_EVENT_INPUT_TEMPLATE
        input_paths_map = input_paths_map or parser.DEFAULT_EVENT_INPUT_PATHS_MAP
        for input_path in input_paths_map:
            matches = compiled(input_paths_map[input_path]).find(event)
            result = parser._stringify(matches[0].value) if matches else None
            if result:
                template_to_use = template_to_use.replace(f"<{input_path}>", result)
        default_inputs_map = {"aws.events.event.json": event,
                              "aws.events.event.ingestion-time": event["ingestion-time"]}
        for input_path in default_inputs_map:
            result = parser._stringify(default_inputs_map[input_path])
            template_to_use = template_to_use.replace(f"<{input_path}>", result)
        return json.loads(template_to_use)

    utils.EventTemplateParser.parse = staticmethod(parse)  # type: ignore[method-assign]


# ---------------------------------------------------------------------- response serialiser
_NO_FAST_PATH = object()


def _install_serializer() -> None:
    from moto.core import serialize as ser

    base = ser.ResponseSerializer
    structure, member, get_value = base._serialize_type_structure, base._serialize_structure_member, base.get_value
    known_pickers = (ser.DefaultAttributePicker, ser.AttributePicker, ser.XFormedAttributePicker)
    known_providers = frozenset(ser.DEFAULT_ALIAS_PROVIDERS)
    cache: dict[tuple[Any, ...], Any] = {}

    def member_keys(self: Any, shape: Any) -> Any:
        """Per member of ``shape``: the keys moto's value picker tries, in order, on a plain dict
        (the providers look at the shape, its parent and the dict's class only); or ``_NO_FAST_PATH``."""
        picker = self._value_picker
        if type(picker) is ser.DefaultAttributePicker:
            providers: tuple[Any, ...] = ()
        elif type(picker) in known_pickers and not picker.response_transformers and known_providers.issuperset(
                picker.alias_providers):
            providers = tuple(picker.alias_providers)
        else:
            return _NO_FAST_PATH
        key = (type(picker), providers, id(shape))
        found = cache.get(key)
        if found is None:
            keys = []
            for member_key, member_shape in shape.members.items():
                member_shape.parent = shape
                if providers:
                    context = ser.AttributePickerContext(obj={}, key=member_key, shape=member_shape,
                                                         operation_model=self.operation_model,
                                                         service_model=self.service_model)
                    candidates = tuple(picker.get_possible_keys(context))
                else:
                    candidates = (member_key,)
                if any(not isinstance(c, str) or "." in c for c in candidates):  # a path: moto walks it
                    keys = _NO_FAST_PATH
                    break
                keys.append((member_key, member_shape, candidates))
            found = cache[key] = (shape, keys)  # the shape kept alive: its id stays its own
        return found[1]

    def serialize_type_structure(self: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
        """moto's structure serialisation; for a plain dict, each member found by the keys moto would try."""
        if (type(value) is not dict or type(self)._serialize_structure_member is not member
                or type(self).get_value is not get_value):
            structure(self, serialized, value, shape, key)
            return
        keys = member_keys(self, shape)
        if keys is _NO_FAST_PATH:
            structure(self, serialized, value, shape, key)
            return
        wrapper = self.MAP_TYPE() if key else serialized
        for member_key, member_shape, candidates in keys:
            member_shape.parent = shape
            for candidate in candidates:
                if candidate in value:
                    member_value = value[candidate]
                    if member_value is not None:
                        self._serialize(wrapper, member_value, member_shape, member_key)
                    break
        if key:
            self._default_serialize(serialized, wrapper, shape, key)

    base._serialize_type_structure = serialize_type_structure


# ---------------------------------------------------------------------- moto's server
def _install_server_routing() -> None:
    from moto import backends
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules  # the installed package does not change while we run
    get_backend_for_host = DomainDispatcherApplication.get_backend_for_host
    known: dict[str, Any] = {}

    def backend_for_host(self: DomainDispatcherApplication, host: str | None) -> Any:
        """moto's answer for ``host``, remembered once found (its URL patterns are fixed)."""
        if host is None:
            return None
        found = known.get(host)
        if found is None:
            found = get_backend_for_host(self, host)
            if found is not None:
                known[host] = found
        return found

    DomainDispatcherApplication.get_backend_for_host = backend_for_host


# ---------------------------------------------------------------------- moto's response handlers
def _install_responses() -> None:
    from moto.core import responses, utils

    listed = utils.method_names_from_class
    known: dict[type, tuple[tuple[int, ...], list[str]]] = {}

    def method_names_from_class(clazz: type) -> list[str]:
        """moto's list of ``clazz``'s functions, kept while no class of its MRO changes its attributes."""
        shape = tuple(tuple(vars(c)) for c in clazz.__mro__)
        found = known.get(clazz)
        if found is None or found[0] != shape:
            found = known[clazz] = (shape, listed(clazz))
        return found[1]

    responses.method_names_from_class = method_names_from_class
