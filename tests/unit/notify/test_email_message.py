"""The campaign e-mail as SES receives it: MIME parts, headers, encodings, the HTML part, and SES errors."""

from __future__ import annotations

import email
import email.policy
from typing import Any

import pytest

from omo2c.channels.email import (
    EmailMessage,
    EmailRejected,
    EmailUnavailable,
    SesEmailSender,
    html_document,
    ses_tags,
)

SENDER = "熟成茶行 <news@brand.tw>"
TOKEN = ("AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4_"
         "QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl9gYWJjZA")
URL = f"https://abcdefghij.execute-api.ap-northeast-1.amazonaws.com/u/{TOKEN}"
SUBJECT = "【熟成紅茶】林小美，您好！本週會員限定優惠，最後三天"
TEXT = "林小美 <script>alert(1)</script> 您好：\n新品上市 https://shop.example.com/p/tea-01?c=red&s=2。\n王小明 敬上"
TAGS = {"campaign_id": "c0ffee00c0ffee00", "run_id": "20261124T031500-abc123", "member_id": "0123456789abcdef0123"}


class FakeSes:
    """Records each send_email call; answers with a message id, or raises what it is told to."""

    def __init__(self, error: Exception | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self.error = error

    def send_email(self, **request: Any) -> dict[str, str]:
        self.calls.append(request)
        if self.error is not None:
            raise self.error
        return {"MessageId": "0101-ses-message-id"}


class ClientError(Exception):
    """botocore's ClientError as the sender sees it: an exception with a ``response``."""

    def __init__(self, code: str, status: int) -> None:
        super().__init__(code)
        self.response = {"Error": {"Code": code, "Message": "an address would be here"},
                         "ResponseMetadata": {"HTTPStatusCode": status}}


class EndpointConnectionError(Exception):
    pass


def message(mailto: str | None = "unsubscribe@brand.tw", text: str = TEXT, **changes: Any) -> EmailMessage:
    fields = {"to": "mei@example.com", "subject": SUBJECT, "text": text,
              "html": html_document(text, "熟成茶行", URL), "unsubscribe_url": URL, "unsubscribe_mailto": mailto,
              "tags": TAGS, **changes}
    return EmailMessage(**fields)


def sent(mail: EmailMessage, configuration_set: str = "omo2c-dev-email") -> tuple[dict[str, Any], Any]:
    ses = FakeSes()
    assert SesEmailSender(SENDER, configuration_set, ses=ses).send(mail) == "0101-ses-message-id"
    (request,) = ses.calls
    raw = request["Content"]["Raw"]["Data"]
    assert isinstance(raw, bytes) and raw.isascii(), "7-bit on the wire: every non-ASCII part is encoded"
    return request, email.message_from_bytes(raw, policy=email.policy.default)


def test_the_message_has_a_text_and_an_html_part_in_utf8():
    _, parsed = sent(message())
    assert parsed.get_content_type() == "multipart/alternative"
    plain, html = list(parsed.iter_parts())
    assert (plain.get_content_type(), html.get_content_type()) == ("text/plain", "text/html")
    assert plain.get_content_charset() == html.get_content_charset() == "utf-8"
    assert plain.get_content().replace("\r\n", "\n").rstrip("\n") == TEXT
    assert "新品上市" in html.get_content() and "王小明 敬上" in html.get_content()


def test_subject_sender_and_recipient_round_trip_in_chinese():
    request, parsed = sent(message())
    assert parsed["Subject"] == SUBJECT
    assert parsed["From"] == SENDER and parsed["From"].addresses[0].display_name == "熟成茶行"
    assert parsed["To"] == "mei@example.com"
    assert request["FromEmailAddress"].isascii() and request["FromEmailAddress"].endswith(" <news@brand.tw>")
    assert email.message_from_string(f"From: {request['FromEmailAddress']}\n\n",
                                     policy=email.policy.default)["From"] == SENDER
    assert request["Destination"] == {"ToAddresses": ["mei@example.com"]}


def test_the_unsubscribe_headers_are_exact_with_the_mailto_first():
    _, parsed = sent(message())
    assert parsed["List-Unsubscribe"] == f"<mailto:unsubscribe@brand.tw?subject=unsubscribe>, <{URL}>"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_without_a_mailto_the_header_has_the_url_only():
    _, parsed = sent(message(mailto=None))
    assert parsed["List-Unsubscribe"] == f"<{URL}>"
    _, parsed = sent(message(mailto=""))
    assert parsed["List-Unsubscribe"] == f"<{URL}>"


def test_a_long_unsubscribe_url_is_never_cut_into_encoded_words():
    request, _ = sent(message())
    raw = request["Content"]["Raw"]["Data"].decode()
    header = raw.split("List-Unsubscribe:", 1)[1].split("\r\nList-Unsubscribe-Post", 1)[0]
    assert f"<{URL}>" in header and "=?" not in header
    assert all(len(line) <= 998 for line in raw.split("\r\n"))


def test_the_configuration_set_and_tags_go_to_ses_only_when_set():
    request, _ = sent(message())
    assert request["ConfigurationSetName"] == "omo2c-dev-email"
    assert request["EmailTags"] == [{"Name": k, "Value": v} for k, v in TAGS.items()]
    request, _ = sent(message(), configuration_set="")
    assert "ConfigurationSetName" not in request


def test_tag_values_keep_to_what_ses_allows():
    assert ses_tags({"campaign_id": "春季 sale/1", "run_id": "", "member_id": "m-1_a"}) == [
        {"Name": "campaign_id", "Value": "___sale_1"}, {"Name": "member_id", "Value": "m-1_a"}]


def test_the_html_part_escapes_the_text_links_urls_and_ends_with_the_footer():
    html = html_document(TEXT, "熟成 & 茶行", URL)
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert ('<a href="https://shop.example.com/p/tea-01?c=red&amp;s=2" style="color:#0b6bcb;">'
            "https://shop.example.com/p/tea-01?c=red&amp;s=2</a>。") in html
    assert "您好：<br>\n新品上市" in html
    assert "熟成 &amp; 茶行" in html
    assert f'不想再收到這類信件？<a href="{URL}"' in html and ">取消訂閱</a>" in html
    assert "<link" not in html and "<img" not in html and "src=" not in html and "<style" not in html


def test_only_http_and_https_become_links():
    html = html_document("javascript:alert(1) ftp://x.tw https://ok.tw/a). http:// 完", "B", URL)
    assert html.count("<a ") == 2  # the one URL and the footer
    assert '<a href="https://ok.tw/a"' in html and "javascript:alert(1)" in html


def test_no_sender_configured_is_refused_before_ses_is_called():
    ses = FakeSes()
    with pytest.raises(EmailRejected, match="no sender address is configured"):
        SesEmailSender("", "set", ses=ses).send(message())
    assert ses.calls == []


@pytest.mark.parametrize(("error", "expected"), [
    (ClientError("MessageRejected", 400), EmailRejected),
    (ClientError("MailFromDomainNotVerifiedException", 400), EmailRejected),
    (ClientError("BadRequestException", 400), EmailRejected),
    (ClientError("NotFoundException", 404), EmailRejected),
    (ClientError("TooManyRequestsException", 429), EmailUnavailable),
    (ClientError("Throttling", 400), EmailUnavailable),
    (ClientError("LimitExceededException", 400), EmailUnavailable),
    (ClientError("SendingPausedException", 400), EmailUnavailable),
    (ClientError("InternalFailure", 500), EmailUnavailable),
    (ClientError("ServiceUnavailable", 503), EmailUnavailable),
    (EndpointConnectionError("could not connect"), EmailUnavailable),
])
def test_ses_errors_map_to_retry_later_or_refused_for_good(error, expected):
    with pytest.raises(expected) as raised:
        SesEmailSender(SENDER, ses=FakeSes(error)).send(message())
    assert "@" not in str(raised.value) and raised.value.__cause__ is error


@pytest.mark.parametrize("to", ["not-an-address", "@example.com", "林@example.com", ""])
def test_an_undeliverable_recipient_is_refused_without_calling_ses(to):
    ses = FakeSes()
    with pytest.raises(EmailRejected):
        SesEmailSender(SENDER, ses=ses).send(message(to=to))
    assert ses.calls == []


def test_an_internationalised_domain_goes_out_in_its_idna_form():
    request, parsed = sent(message(to="mei@例子.台灣"))
    assert request["Destination"]["ToAddresses"] == ["mei@xn--fsqu00a.xn--kpry57d"]
    assert parsed["To"] == "mei@xn--fsqu00a.xn--kpry57d"
