"""The cold-start floors are whole programs of the libraries alone, one per kind of function."""

from __future__ import annotations

import pytest

from bench.cold_start import FLOORS, _floor


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_each_floor_is_a_program_that_prints_its_time(name):
    code = compile(FLOORS[name], f"<floor {name}>", "exec")
    assert "perf_counter" in code.co_names and "omo2c" not in FLOORS[name]


def test_a_floor_builds_the_clients_it_is_given_and_pynamodb_only_when_asked():
    intake = _floor("aws_lambda_powertools.event_handler", ("sqs",), pynamodb=False)
    assert "session.client('sqs')" in intake and "pynamodb" not in intake
    consumer = _floor("aws_lambda_powertools.utilities.batch", ("events", "dynamodb"))
    assert "session.client('events'); session.client('dynamodb')" in consumer
    assert "import boto3, pynamodb.models" in consumer
