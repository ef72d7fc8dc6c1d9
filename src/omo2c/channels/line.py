"""LINE Messaging API, behind a small port: signature checks and the reply/push/multicast calls.

line-bot-sdk takes most of a second to import (its webhook module alone a third of one, for the
models of every event type), so it is imported here only, on the first message actually sent, and
never by the ingest or attribute functions. The signature check is LINE's documented HMAC-SHA256,
which needs no SDK: a customer's chat message that only has to be kept never loads it.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from functools import cached_property
from typing import Any, Protocol

from omo2c.sources.signatures import body_signature

LINE_TEXT_LIMIT = 5000  # a text message holds at most 5,000 characters
LINE_MESSAGES_PER_CALL = 5


class LineUnavailable(RuntimeError):
    """LINE answered 429 or 5xx: the caller retries later (through its queue)."""


class LineRejected(RuntimeError):
    """LINE refused the request for good (4xx other than 429): retrying will not help."""


class LineMessenger(Protocol):
    def reply(self, reply_token: str, texts: list[str]) -> None: ...

    def reply_messages(self, reply_token: str, messages: list[dict[str, Any]]) -> None: ...

    def push(self, user_id: str, texts: list[str], retry_key: str) -> str | None: ...

    def multicast(self, user_ids: list[str], texts: list[str], retry_key: str) -> None: ...

    def push_messages(self, user_id: str, messages: list[dict[str, Any]], retry_key: str) -> str | None: ...


def signature_valid(body: str, signature: str | None, channel_secret: str) -> bool:
    """``X-Line-Signature``: base64 of HMAC-SHA256 over the raw body, keyed with the channel secret."""
    if not signature:
        return False
    return hmac.compare_digest(body_signature(channel_secret, body.encode()).encode(), signature.encode())


class MessagingApiMessenger:
    """line-bot-sdk's MessagingApi, pointed at the configured endpoint (the stand-in locally).

    The SDK and the access token are loaded on the first call, not when the messenger is built."""

    def __init__(self, host: str, access_token: Callable[[], str]) -> None:
        self._host = host
        self._access_token = access_token

    @cached_property
    def _api(self) -> Any:
        from linebot.v3.messaging import ApiClient, Configuration, MessagingApi

        return MessagingApi(ApiClient(Configuration(host=self._host, access_token=self._access_token())))

    @staticmethod
    def _messages(texts: list[str]) -> list[Any]:
        from linebot.v3.messaging import TextMessage

        return [TextMessage(text=t[:LINE_TEXT_LIMIT]) for t in texts[:LINE_MESSAGES_PER_CALL]]

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        from linebot.v3.messaging.exceptions import ApiException

        try:
            return fn(*args, **kwargs)
        except ApiException as exc:
            if exc.status == 409:
                return None
            if exc.status == 429 or (exc.status or 500) >= 500:
                raise LineUnavailable(f"LINE answered {exc.status}") from exc
            raise LineRejected(f"LINE answered {exc.status}") from exc

    def reply(self, reply_token: str, texts: list[str]) -> None:
        from linebot.v3.messaging import ReplyMessageRequest

        self._call(self._api.reply_message, ReplyMessageRequest(reply_token=reply_token,
                                                                messages=self._messages(texts)))

    def reply_messages(self, reply_token: str, messages: list[dict[str, Any]]) -> None:
        """A reply of messages as the Messaging API documents them (a Flex card), checked by the SDK's models."""
        from linebot.v3.messaging import ReplyMessageRequest

        request = ReplyMessageRequest.from_dict({"replyToken": reply_token,
                                                 "messages": messages[:LINE_MESSAGES_PER_CALL]})
        self._call(self._api.reply_message, request)

    def push(self, user_id: str, texts: list[str], retry_key: str) -> str | None:
        from linebot.v3.messaging import PushMessageRequest

        response = self._call(self._api.push_message, PushMessageRequest(to=user_id, messages=self._messages(texts)),
                              x_line_retry_key=retry_key)
        sent = getattr(response, "sent_messages", None) or []
        return sent[0].id if sent else None

    def push_messages(self, user_id: str, messages: list[dict[str, Any]], retry_key: str) -> str | None:
        """Messages as the Messaging API documents them (text or Flex, with ``sender``), checked by the SDK's models."""
        from linebot.v3.messaging import PushMessageRequest

        request = PushMessageRequest.from_dict({"to": user_id, "messages": messages[:LINE_MESSAGES_PER_CALL]})
        response = self._call(self._api.push_message, request, x_line_retry_key=retry_key)
        sent = getattr(response, "sent_messages", None) or []
        return sent[0].id if sent else None

    def multicast(self, user_ids: list[str], texts: list[str], retry_key: str) -> None:
        from linebot.v3.messaging import MulticastRequest

        self._call(self._api.multicast, MulticastRequest(to=user_ids, messages=self._messages(texts)),
                   x_line_retry_key=retry_key)

