"""Contract conformance of the sandbox, checked by schemathesis against the OpenAPI file.

The contract is the project's own copy, ``reference/contracts/lms-api.openapi.yaml``;
``LMS_CONTRACT_PATH`` checks the sandbox against another file instead.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, response_headers_conformance,
                                               response_schema_conformance, status_code_conformance)

from analytics_pipeline.sandbox import start_in_thread
from analytics_pipeline.settings import reference_file
from tests.sandbox.conftest import TOKEN

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]


def contract_path() -> Path:
    """The contract: LMS_CONTRACT_PATH, else the project's reference copy (a missing file fails the test)."""
    if os.environ.get("LMS_CONTRACT_PATH"):
        return Path(os.environ["LMS_CONTRACT_PATH"])
    return reference_file("contracts/lms-api.openapi.yaml")


schema = schemathesis.openapi.from_path(contract_path())


@pytest.fixture(scope="module")
def sandbox_url(platform_xs):
    handle = start_in_thread(platform_xs, token=TOKEN)
    yield handle.url
    handle.stop()


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_endpoint_conforms_to_the_contract(case, sandbox_url):
    case.call_and_validate(base_url=sandbox_url, headers={"Authorization": f"Bearer {TOKEN}"},
                           checks=CHECKS)


@pytest.mark.parametrize("resource", ["users", "learning-events", "enrollments", "user-skills", "deletions"])
def test_later_pages_conform_too(client, resource):
    """Generated cases mostly hit page one; walk a few later pages through the same checks."""
    operation = schema[f"/v1/{resource}"]["GET"]
    cursor = None
    for _ in range(3):
        query = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        case = operation.Case(query=query)
        response = case.call_and_validate(base_url=client.url, headers={"Authorization": f"Bearer {TOKEN}"},
                                          checks=CHECKS)
        cursor = response.json()["next_cursor"]
        if cursor is None:
            break
