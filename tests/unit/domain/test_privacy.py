"""Phone numbers and emails never reach the logs raw."""

from __future__ import annotations

import json

from omo2c.core.privacy import mask_email, mask_phone, redact


def test_masks_keep_only_what_support_needs():
    assert mask_phone("+886933128765") == "***765"
    assert mask_email("mei@example.com") == "m***@example.com"


def test_redact_finds_phones_and_emails_in_free_text():
    text = redact("call 0933-128-765 or +886 933 128 765, mail Mei.Lin@example.com")
    assert "933" not in text.replace("***765", "") and "Mei.Lin@" not in text


def test_logger_masks_messages_extras_and_exception_text(capsys):
    from omo2c.core.observability import logger

    logger.info("member 0933128765 mei@example.com", extra={"phone": "+886933128765", "nested": {"e": "a@b.co"}})
    try:
        raise ValueError("bad phone 0933128765")
    except ValueError:
        logger.exception("failed")
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    dumped = json.dumps(lines)
    assert "933128765" not in dumped and "mei@example.com" not in dumped and "a@b.co" not in dumped
