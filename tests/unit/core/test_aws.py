"""The session's data loader finds the same service models as botocore's own, and refuses the same names."""

from __future__ import annotations

import botocore.loaders
import pytest
from botocore.exceptions import UnknownServiceError

from omo2c.core import aws


@pytest.fixture()
def loader():
    aws.reset_clients()
    yield aws.session()._session.get_component("data_loader")
    aws.reset_clients()


@pytest.mark.parametrize(("service", "kind"), [("dynamodb", "service-2"), ("sqs", "service-2"),
                                               ("events", "endpoint-rule-set-1"), ("sesv2", "service-2")])
def test_a_service_model_is_the_one_botocore_loads(loader, service, kind):
    assert loader.load_service_model(service, kind) == botocore.loaders.Loader().load_service_model(service, kind)


def test_a_named_api_version_is_honoured(loader):
    version = botocore.loaders.Loader().determine_latest_version("dynamodb", "service-2")
    assert loader.load_service_model("dynamodb", "service-2", version)["metadata"]["apiVersion"] == version


def test_an_unknown_service_gets_botocores_error_naming_the_known_ones(loader):
    with pytest.raises(UnknownServiceError) as raised:
        loader.load_service_model("no-such-service", "service-2")
    assert "dynamodb" in str(raised.value)


def test_clients_are_built_from_it(loader):
    client = aws.session().client("sqs", region_name="ap-northeast-1", endpoint_url="http://127.0.0.1:9")
    assert client.meta.service_model.service_name == "sqs"
