"""API fuzzing from the OpenAPI schema, as every persona (issue 10: 0 responses >= 500, 0 schema
violations). Used by tests/config/test_api_fuzz.py (small, bounded) and bench/fuzz_api.py (big).

Schemathesis generates requests for every operation of the schema the server publishes, valid
ones (positive) and ones that break the schema (negative); each persona signs in through the
login page (a session cookie plus the CSRF header DRF's session authentication asks for) and
sends them to a live server. A response fails when it is a 5xx or does not conform to the schema
(status code, content type, headers, body).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import PASSWORD

# The personas of tests/conftest.py (fixture name -> username), and an anonymous client.
PERSONAS = {
    "labeler": "lara",
    "other_labeler": "omar",
    "researcher": "rita",
    "admin_user": "ada",
    "outsider": "otto",
    "anonymous": None,
}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
MODES = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)
OPENAPI_JSON = "application/vnd.oai.openapi+json"


@dataclass
class Finding:
    persona: str
    operation: str
    status: int | None
    check: str
    message: str

    def __str__(self) -> str:
        return f"{self.persona} {self.operation} -> {self.status}: {self.check}: {self.message}"


@dataclass
class Report:
    requests: Counter[str] = field(default_factory=Counter)
    server_errors: Counter[str] = field(default_factory=Counter)
    findings: list[Finding] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    elapsed: float = 0.0  # seconds the server took to answer, all requests together
    seconds: float = 0.0

    def failures_of(self, persona: str) -> list[Finding]:
        return [f for f in self.findings if f.persona == persona]


def personas_create() -> None:
    """The personas of tests/conftest.py, for a run outside pytest (bench/fuzz_api.py)."""
    from django.contrib.auth import get_user_model

    from annotation.services.labelers import user_create
    from tests.conftest import _labeler

    _labeler("lara", age_range="18-29", region="EU")
    _labeler("omar", age_range="60+", region="US")
    user_create(username="rita", password=PASSWORD, role="researcher")
    user_create(username="ada", password=PASSWORD, role="admin")
    get_user_model().objects.create_user(username="otto", password=PASSWORD)


def signed_in(base_url: str, username: str | None) -> requests.Session:
    """A session signed in through the login page, sending the CSRF header on writes."""
    session = requests.Session()
    if username is not None:
        login = f"{base_url}/accounts/login/"
        session.get(login).raise_for_status()
        response = session.post(
            login,
            data={
                "username": username,
                "password": PASSWORD,
                "csrfmiddlewaretoken": session.cookies["csrftoken"],
            },
            headers={"Referer": login},
            allow_redirects=False,
        )
        assert response.status_code == 302, f"{username} could not sign in"
    session.headers["X-CSRFToken"] = session.cookies.get("csrftoken", "")
    return session


def load_schema(base_url: str, session: requests.Session) -> Any:
    response = session.get(f"{base_url}/api/schema/", headers={"Accept": OPENAPI_JSON})
    response.raise_for_status()
    raw = response.json()
    # Each persona's session signs the requests: no generated credentials (a made-up Basic
    # header or session cookie would replace the persona with a failed login).
    raw.get("components", {}).pop("securitySchemes", None)
    for operations in raw["paths"].values():
        for operation in operations.values():
            operation.pop("security", None)
    return schemathesis.openapi.from_dict(raw)


def _fuzz_operation(
    operation: Any,
    mode: Any,
    *,
    base_url: str,
    session: requests.Session,
    persona: str,
    max_examples: int,
    report: Report,
) -> None:
    label = f"{operation.method.upper()} {operation.path}"

    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: every request counts once
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        try:
            response = case.call(base_url=base_url, session=session, allow_redirects=False)
        except requests.RequestException as exc:
            report.findings.append(Finding(persona, label, None, "request", repr(exc)[:300]))
            return
        report.requests[persona] += 1
        report.statuses[response.status_code] += 1
        report.elapsed += response.elapsed  # seconds (schemathesis Response)
        if response.status_code >= 500:
            report.server_errors[persona] += 1
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as group:
            for failure in group.exceptions:
                message = " ".join(str(failure.message).split())[:300]
                report.findings.append(
                    Finding(persona, label, response.status_code, failure.title, message)
                )

    try:
        run()
    except Unsatisfiable:  # nothing to negate (an operation with no parameters and no body)
        assert mode == schemathesis.GenerationMode.NEGATIVE, label


def fuzz(
    base_url: str,
    *,
    personas: Iterable[str] = PERSONAS,
    max_examples: int = 5,
    operations: str | None = None,
) -> Report:
    """Fuzz every operation (or those whose path contains `operations`) as each persona, with
    `max_examples` positive and as many negative requests per operation and persona."""
    started = time.monotonic()
    report = Report()
    schema = load_schema(base_url, signed_in(base_url, PERSONAS["researcher"]))
    for persona in personas:
        session = signed_in(base_url, PERSONAS[persona])
        for result in schema.get_all_operations():
            operation = result.ok()
            if operations and operations not in operation.path:
                continue
            for mode in MODES:
                _fuzz_operation(
                    operation,
                    mode,
                    base_url=base_url,
                    session=session,
                    persona=persona,
                    max_examples=max_examples,
                    report=report,
                )
    report.seconds = time.monotonic() - started
    return report


def summary(report: Report) -> str:
    lines = [f"{'persona':<15} {'requests':>8} {'>=500':>6} {'failures':>8}"]
    for persona in report.requests:
        lines.append(
            f"{persona:<15} {report.requests[persona]:>8} {report.server_errors[persona]:>6} "
            f"{len(report.failures_of(persona)):>8}"
        )
    lines.append(
        f"{sum(report.requests.values())} requests in {report.seconds:.1f} s "
        f"({report.elapsed:.1f} s answering); statuses: {dict(sorted(report.statuses.items()))}"
    )
    distinct = sorted(
        {f"{f.operation} -> {f.status}: {f.check}: {f.message}" for f in report.findings}
    )
    lines += [f"  {line}" for line in distinct[:60]]
    return "\n".join(lines)
