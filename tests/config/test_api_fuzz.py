"""A bounded API fuzz run (tests/fuzz.py): every operation of the OpenAPI schema, valid and
invalid requests, as every persona against a live server. No response is a 5xx and every
response conforms to the schema. bench/fuzz_api.py (`make fuzz`) runs a bigger one."""

from __future__ import annotations

import pytest

from tests.fuzz import PERSONAS, fuzz, summary

pytestmark = pytest.mark.slow


@pytest.mark.django_db(transaction=True)
def test_the_api_fuzzer_finds_no_server_errors_and_no_schema_violations(
    live_server, labeler, other_labeler, researcher, admin_user, outsider, project
):
    report = fuzz(live_server.url, personas=PERSONAS, max_examples=1)
    assert sum(report.requests.values()) >= 200, summary(report)
    assert not report.findings, summary(report)
