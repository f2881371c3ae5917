"""Schemathesis fuzzes a real server from its own /openapi.json: no 5xx, answers as
documented (status codes and body schemas), every operation, a bounded number of cases."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

from tests.e2e.server import running_server
from tests.support.smtp import SmtpSink

EXAMPLES_PER_OPERATION = 50
# What the contract promises. (Not "positive_data_acceptance": the schema cannot spell
# every rule, such as a password that zxcvbn finds guessable, so schema-valid input may
# still get a documented 422.)
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    folder = tmp_path_factory.mktemp("fuzz")
    database = folder / "fuzz.db"
    # Mail on (a real SMTP server process): without it the mail routes answer their
    # documented 503, which the no-5xx check counts as a failure.
    smtp = SmtpSink(folder / "mail").start()
    try:
        # Fuzzing sends many requests from one address: limits off for this server.
        with running_server(database, rate_limit_enabled="false", smtp_url=smtp.url) as base:
            yield schemathesis.openapi.from_url(f"{base}/openapi.json")
    finally:
        smtp.stop()


def operations(schema: Any) -> list[Any]:
    return [result.ok() for result in schema.get_all_operations()]


def test_every_operation_conforms(api_schema: Any) -> None:
    tested = []
    for operation in operations(api_schema):

        @given(case=operation.as_strategy())
        # derandomize: the same cases on every run, so CI never fails on a new random
        # draw; set it to False locally to explore further.
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def conforms(case: Any) -> None:
            case.call_and_validate(checks=CHECKS)

        conforms()
        tested.append(operation.label)
    assert len(tested) >= 16, tested
