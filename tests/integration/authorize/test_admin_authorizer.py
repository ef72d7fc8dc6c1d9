"""The admin authorizer accepts the bearer token and nothing else."""

from __future__ import annotations

import pytest

from tests.support.aws import load_handler
from tests.support.events import sample


@pytest.fixture
def authorizer(aws, monkeypatch):
    monkeypatch.setenv("OMO_ADMIN_TOKEN", "local-admin-token")
    return load_handler("AdminAuthorizerFunction")


def test_right_token_is_authorized(authorizer, lambda_context):
    assert authorizer.lambda_handler(sample("authorize/authorizer-request.json"), lambda_context)["isAuthorized"]


@pytest.mark.parametrize("header", ["Bearer wrong", "local-admin-token", "Basic bG9jYWw=", "Bearer ", "",
                                    "Bearer 管理員", "Bearer local-admin-token\u00e9"])
def test_anything_else_is_refused(authorizer, lambda_context, header):
    event = sample("authorize/authorizer-request.json")
    event["headers"]["authorization"] = header
    assert authorizer.lambda_handler(event, lambda_context)["isAuthorized"] is False
