"""A schemathesis campaign against the real API, as the outside fuzzers will run it.

The schema is /openapi.json as the app serves it; every operation is called with generated
inputs, both valid (positive) and invalid (negative), as four callers: anonymous, a driver,
operator staff and a platform admin, against the two-tenant world of the tenant matrix
(tenants.py), on the real PostgreSQL and on this worker's localstripe. Each answer must
- never be a server error (5xx), unless the operation documents that status (a charger that
  does not answer: 503/504), and never a 500;
- have a status code, a content type and a body that the operation's schema documents;
  errors are the one `{code, status, message, errors}` shape of the Error schema.

Bounded and repeatable: a fixed number of examples per operation, derandomized, so CI sees
the same requests every run. A failure lists every failing operation with a curl command.
"""

from __future__ import annotations

import os
import time
from typing import Any

import hypothesis
import hypothesis.errors
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from backend.db.models.enums import Role
from backend.services.visibility import MAX_ID
from tests import factories as f
from tests.integration.tenants import World, build_world

# Examples per operation and generation mode for a caller the operation admits; a caller
# it turns away gets 401/403 before anything is read, which a few examples establish.
# WATTPASS_FUZZ_EXAMPLES raises it for a deeper campaign by hand.
EXAMPLES = int(os.environ.get("WATTPASS_FUZZ_EXAMPLES", "25"))
EXAMPLES_TURNED_AWAY = 5

CALLERS = ["anonymous", "driver", "staff", "admin"]
WEBHOOKS = "/stripe/webhooks"
# No operation is left out. Stripe is this worker's localstripe (stripe_env). The chargers'
# OCPP bridge is not running here: commands and session start/stop get the answers those
# operations document for a charger that is offline or unreachable (409/503/504).
ROLE_OF = {"driver": "driver", "staff": "operator_staff", "admin": "platform_admin"}


def documented_server_errors(ctx: Any, response: Any, case: Any) -> bool | None:
    """not_a_server_error, except a 5xx the operation documents (the charger of a command
    did not answer: 502/503/504). A 500 is never documented, so never passes."""
    if 500 <= response.status_code < 600 and str(response.status_code) in (
        case.operation.definition.raw.get("responses", {})
    ):
        return None
    return not_a_server_error(ctx, response, case)


CHECKS = [
    documented_server_errors,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def settings(settings, stripe_env):  # type: ignore[no-untyped-def]
    # Payments go to this worker's localstripe, as in the payments tests.
    return stripe_env.settings_for(settings)


def caller_headers(world: World, caller: str) -> dict[str, str]:
    return {
        "anonymous": {},
        "driver": world.a.headers,
        "staff": world.x.staff,
        "admin": world.admin,
    }[caller]


def current_etag(app: Any, path: str, headers: dict[str, str]) -> str:
    """The ETag of what `path` changes: the resource itself (PATCH a site) or the list it
    belongs to (PUT one price of a site's prices); "" when neither can be read."""
    client = app.test_client()
    for url in (path, path.rsplit("/", 1)[0]):
        r = client.get(url, headers=headers)
        if r.status_code == 200 and r.headers.get("ETag"):
            return str(r.headers["ETag"])
    return ""


def fuzz(
    app: Any, operation: Any, mode: GenerationMode, headers: dict[str, str], examples: int
) -> None:
    strategy = operation.as_strategy(generation_mode=mode)
    # Where If-Match is asked for, a random one only ever gets 412, and the body behind it
    # is never read: send the current ETag instead, when the generated If-Match is there.
    etagged = any(p.name == "If-Match" for p in operation.headers)

    @given(case=strategy)
    @hypothesis.settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: bounded time in CI
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )
    def run(case: Any) -> None:
        if etagged and case.headers is not None and "If-Match" in case.headers:
            case.headers["If-Match"] = current_etag(app, case.formatted_path, headers)
        response = case.call(headers=headers)
        case.validate_response(response, checks=CHECKS, headers=headers)
        if operation.path == WEBHOOKS:
            # Kept in the campaign, but nothing generated carries a valid Stripe-Signature:
            # each call must be refused (400) before anything is read or changed.
            assert response.status_code == 400, case.as_curl_command()

    try:
        run()
    except hypothesis.errors.Unsatisfiable:
        # Negative mode for an operation that takes nothing (GET /health): nothing to break.
        assert mode is GenerationMode.NEGATIVE, operation.label


@pytest.mark.parametrize("caller", CALLERS)
def test_fuzz_every_operation(caller, app, client, session):  # type: ignore[no-untyped-def]
    world = build_world(client, session)
    headers = caller_headers(world, caller)
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    failures: list[str] = []
    started = time.monotonic()
    for result in schema.get_all_operations():
        operation = result.ok()
        roles = operation.definition.raw.get("x-allowed-roles")
        admitted = roles is None or ROLE_OF.get(caller) in roles
        examples = EXAMPLES if admitted else EXAMPLES_TURNED_AWAY
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                fuzz(app, operation, mode, headers, examples)
            except (Exception, BaseExceptionGroup) as exc:  # FailureGroup is a Base one
                failures.append(f"--- {operation.label} [{mode.value}]\n{exc}")
    took = time.monotonic() - started
    print(f"{caller}: fuzzed in {took:.1f}s")
    assert not failures, f"{len(failures)} failing operations as {caller}:\n" + "\n".join(failures)


# --- what the campaign found, pinned down without the fuzzer ---------------------------


def spec_operations(client):  # type: ignore[no-untyped-def]
    spec = client.get("/openapi.json").json
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                params = item.get("parameters", []) + op.get("parameters", [])
                yield spec, method, path, [p for p in params if p.get("in") == "path"]


def test_every_error_is_documented_in_the_shape_we_answer(client):
    # The Error component was flask-smorest's default ({code: int, status: str}): every
    # error of every operation violated the spec.
    spec = next(spec_operations(client))[0]
    error = spec["components"]["schemas"]["Error"]
    assert error["properties"]["code"]["type"] == "string"
    assert error["properties"]["status"]["type"] == "integer"
    assert set(error["required"]) == {"code", "status", "message", "errors"}
    r = client.get("/operators/1")
    assert r.status_code == 401 and set(r.json) == set(error["properties"])


def test_decimals_are_documented_as_the_strings_we_answer(client):
    # apispec wrote Decimal fields as numbers with string bounds ("minimum": "0"): an
    # invalid document, and answers ("2.59") that did not match it.
    spec = next(spec_operations(client))[0]
    price = spec["components"]["schemas"]["Plan"]["properties"]["price_per_kwh"]
    assert price["type"] == "string" and price["format"] == "decimal"
    assert "minimum" not in price and price["pattern"].startswith("^[0-9]")


def test_an_id_beyond_32_bits_is_404_never_a_500(client, session):
    # Found by the fuzzer on GET /payments/{id}, GET /me/payments/{id}, .../retry,
    # DELETE /me/plans/{id}, POST /me/cards/{id}/default, DELETE /me/cards/{id}: the id
    # reached the database, which failed the query (a 500). `valid_id` keeps it out now,
    # and the spec states the range of every id in a path.
    driver, admin = f.user(session, Role.DRIVER), f.user(session, Role.PLATFORM_ADMIN)
    session.commit()
    callers = {"driver": f.login(client, driver), "platform_admin": f.login(client, admin)}
    big = MAX_ID + 1
    found = [
        ("driver", "GET", f"/me/payments/{big}", "No such payment."),
        ("driver", "POST", f"/me/payments/{big}/retry", "No such payment."),
        ("driver", "DELETE", f"/me/plans/{big}", "No such plan."),
        ("driver", "POST", f"/me/cards/{big}/default", "No such card."),
        ("driver", "DELETE", f"/me/cards/{big}", "No such card."),
        ("platform_admin", "GET", f"/payments/{big}", "No such payment."),
    ]
    for role, method, url, message in found:
        r = client.open(url, method=method, headers=callers[role])
        assert (r.status_code, r.json["message"]) == (404, message), (url, r.json)
        missing = client.open(
            url.replace(str(big), str(MAX_ID)), method=method, headers=callers[role]
        )
        assert r.json == missing.json  # exactly what a missing id gets
    checked = 0
    for _, method, path, ids in spec_operations(client):
        ints = [p for p in ids if p["schema"]["type"] == "integer"]
        for p in ints:
            assert p["schema"]["maximum"] == MAX_ID and p["schema"]["minimum"] == 1, path
        if not ints:
            continue
        url = path
        for p in ids:
            value = str(big) if p["schema"]["type"] == "integer" else "2026-11"
            url = url.replace("{" + p["name"] + "}", value)
        for role, headers in callers.items():
            r = client.open(url, method=method.upper(), json={}, headers=headers)
            # 404 mostly; 403 for a role turned away, 422 for a body checked first, 204
            # for an idempotent DELETE of what is not there: never a 5xx.
            assert r.status_code < 500, (role, method, url, r.status_code, r.data)
            if r.status_code >= 400:
                assert set(r.json) == {"code", "status", "message", "errors"}
            checked += 1
    assert checked > 100
