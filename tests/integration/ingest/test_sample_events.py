"""The sample events in events/ingest drive the handlers the template names."""

from __future__ import annotations

import json

from tests.support.aws import load_handler
from tests.support.events import sample


def test_sample_sqs_batch_records_the_member_the_sample_lookup_finds(aws, lambda_context, monkeypatch):
    monkeypatch.setenv("OMO_ADMIN_TOKEN", "local-admin-token")
    worker = load_handler("IngestWorkerFunction")
    assert worker.lambda_handler(sample("ingest/sqs-ingest-batch.json"), lambda_context) == {"batchItemFailures": []}
    api = load_handler("MembersApiFunction")
    found = api.lambda_handler(sample("ingest/http-get-members-by-phone.json"), lambda_context)
    assert found["statusCode"] == 200
    assert json.loads(found["body"])["orders"]["count"] == 1


def test_sample_webhook_is_signed_for_a_fixed_time_so_it_is_stale_now(aws, lambda_context, monkeypatch):
    monkeypatch.setenv("OMO_SOURCE_SECRET_POS", "local-pos-secret")
    api = load_handler("IngestApiFunction")
    response = api.lambda_handler(sample("ingest/http-post-webhook-pos.json"), lambda_context)
    assert response["statusCode"] == 401


def test_unknown_member_id_is_404(aws, lambda_context):
    api = load_handler("MembersApiFunction")
    assert api.lambda_handler(sample("ingest/http-get-member.json"), lambda_context)["statusCode"] == 404
    assert api.lambda_handler(sample("ingest/http-post-unmerge.json"), lambda_context)["statusCode"] == 404
