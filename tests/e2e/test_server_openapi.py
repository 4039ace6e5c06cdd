"""Schemathesis against the service's own OpenAPI spec, on a real uvicorn with a fake scorer: every
generated request (valid and invalid) must get a documented status, the JSON error shape, and never a
500. Bounded to 50 examples per operation."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.servers import require_module

schemathesis = require_module("schemathesis", "dev")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from tests.fake_scorers import RecordingScorer  # noqa: E402
from tests.servers import uvicorn_thread  # noqa: E402

from geoalign.server.app import ServerSettings, create_app  # noqa: E402


@pytest.fixture(scope="module")
def api_schema() -> Iterator[Any]:
    app = create_app(RecordingScorer, ServerSettings(max_pairs=20, max_chars=64))
    with uvicorn_thread(app) as base_url:
        deadline = time.monotonic() + 30
        while httpx.get(base_url + "/readyz").status_code != 200:
            if time.monotonic() > deadline:
                pytest.fail(f"not ready after 30 s: {httpx.get(base_url + '/readyz').text}")
            time.sleep(0.01)
        yield schemathesis.openapi.from_url(base_url + "/openapi.json")


def test_api_conforms_to_its_openapi_spec(api_schema: Any) -> None:
    # Driven through Hypothesis directly: schemathesis' pytest plugin does not load under pytest 9.
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/v1/match", "/v1/models", "/readyz"}
    for operation in operations:

        @given(operation.as_strategy())
        @settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))
        def check(case: Any) -> None:
            case.call_and_validate()

        check()
