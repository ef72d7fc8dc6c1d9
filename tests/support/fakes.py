"""Fakes for the outside world: they record what would have been sent."""

from __future__ import annotations


class FakeMessenger:
    def __init__(self) -> None:
        self.replies: list[tuple[str, list[str]]] = []
        self.pushes: list[tuple[str, list[str], str]] = []
        self.multicasts: list[tuple[list[str], list[str], str]] = []
        self.rich_pushes: list[tuple[str, list[dict], str]] = []
        self.rich_replies: list[tuple[str, list[dict]]] = []
        self.failures: list[Exception] = []

    def _maybe_fail(self) -> None:
        if self.failures:
            raise self.failures.pop(0)

    def reply(self, reply_token, texts):
        self._maybe_fail()
        self.replies.append((reply_token, texts))

    def reply_messages(self, reply_token, messages):
        self._maybe_fail()
        self.rich_replies.append((reply_token, messages))

    def push(self, user_id, texts, retry_key):
        self._maybe_fail()
        self.pushes.append((user_id, texts, retry_key))
        return f"msg-{len(self.pushes)}"

    def multicast(self, user_ids, texts, retry_key):
        self._maybe_fail()
        self.multicasts.append((user_ids, texts, retry_key))

    def push_messages(self, user_id, messages, retry_key):
        self._maybe_fail()
        if any(retry_key == key for _, _, key in self.rich_pushes):
            return None
        self.rich_pushes.append((user_id, messages, retry_key))
        return f"rich-{len(self.rich_pushes)}"

    def last_reply(self) -> str:
        return self.replies[-1][1][0]


class FakeSms:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []
        self.failures: list[Exception] = []

    def send(self, phone_e164, text, *, transactional=False):
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append((phone_e164, text))
        return f"sms-{len(self.sent)}"
