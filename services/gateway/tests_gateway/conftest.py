"""The gateway's tests call it as a tenant, with a key issued in the test's database."""

from __future__ import annotations

from typing import Any

import pytest

from livetranslate_gateway.keys import issue_key_for

#: The tenant the tests act for; ``other_tenant_key`` is another's.
TENANT = "tenant-a"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def api_key(database: str) -> str:
    return issue_key_for(database, tenant_id=TENANT, name="tests")


@pytest.fixture
def auth_headers(api_key: str) -> dict[str, str]:
    return bearer(api_key)


@pytest.fixture
def other_tenant_key(database: str) -> str:
    return issue_key_for(database, tenant_id="tenant-b", name="tests")


@pytest.fixture
def operator_key(database: str) -> str:
    return issue_key_for(database, tenant_id=TENANT, name="operators", operator=True)


def assert_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    """The response is an RFC 9457 problem of this status and code, with a detail; its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"] == f"urn:livetranslate:error:{code}", body
    assert body["status"] == status
    assert body["detail"]
    return body
