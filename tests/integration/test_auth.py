"""Accounts over the API against the real PostgreSQL."""

from __future__ import annotations

from tests import factories as f


def register(client, email="driver@example.com", password="long-enough-pass", **extra):
    return client.post("/auth/register", json={"email": email, "password": password, **extra})


def test_register_login_and_profile(client):
    r = register(client, full_name="Zażółć Gęślą", language="pl")
    assert r.status_code == 201
    headers = {"Authorization": f"Bearer {r.json['access_token']}"}
    me = client.get("/auth/me", headers=headers)
    assert me.status_code == 200
    assert me.json["full_name"] == "Zażółć Gęślą"
    r = client.patch(
        "/auth/me",
        headers=headers,
        json={"language": "nb", "billing_city": "Oslo", "billing_country": "NO"},
    )
    assert r.status_code == 200 and r.json["language"] == "nb" and r.json["billing_city"] == "Oslo"


def test_text_with_a_nul_character_is_422_and_nothing_changes(client):
    # Found by the API fuzzer: PostgreSQL cannot hold U+0000, so a profile field (or a
    # query parameter, e.g. GET /plans?currency=) carrying one failed the query (a 500).
    headers = {"Authorization": f"Bearer {register(client).json['access_token']}"}
    before = client.get("/auth/me", headers=headers).json
    r = client.patch(
        "/auth/me", headers=headers, json={"full_name": "Ann", "billing_city": "Os\u0000lo"}
    )
    assert r.status_code == 422 and set(r.json["errors"]) == {"billing_city"}, r.json
    assert set(r.json) == {"code", "status", "message", "errors"}
    assert client.get("/auth/me", headers=headers).json == before
    r = client.get("/plans", query_string={"currency": "P\u0000LN"})
    assert r.status_code == 422 and set(r.json["errors"]) == {"currency"}, r.json
    r = client.post(
        "/me/plans", headers=headers, json={"plan_code": "a\u0000", "accept_terms": True}
    )
    assert r.status_code == 422 and set(r.json["errors"]) == {"plan_code"}, r.json
    # Anonymous is still told to log in first, whatever the body holds.
    r = client.patch("/auth/me", json={"full_name": "\u0000"})
    assert r.status_code == 401


def test_password_stored_as_argon2(client, session):
    register(client)
    u = session.query(f.User).one()
    assert u.password_hash.startswith("$argon2id$")
    assert "long-enough-pass" not in u.password_hash


def test_duplicate_email_is_conflict_case_insensitive(client):
    assert register(client).status_code == 201
    r = register(client, email="DRIVER@example.com")
    assert r.status_code == 409
    assert set(r.json) == {"code", "status", "message", "errors"}


def test_invalid_input_is_422_with_field_errors(client):
    r = client.post(
        "/auth/register", json={"email": "not-an-email", "password": 5, "language": "de"}
    )
    assert r.status_code == 422
    assert {"email", "password", "language"} <= set(r.json["errors"])


def test_malformed_json_is_400_in_the_error_shape(client):
    r = client.post("/auth/login", data="{oops", content_type="application/json")
    assert r.status_code == 400
    assert r.json["code"] and r.json["message"]


def test_wrong_password_is_401_and_message_does_not_reveal_account(client):
    register(client)
    wrong = client.post(
        "/auth/login", json={"email": "driver@example.com", "password": "nope-nope-nope"}
    )
    unknown = client.post(
        "/auth/login", json={"email": "ghost@example.com", "password": "nope-nope-nope"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json["message"] == unknown.json["message"]


def test_refresh_rotates_and_replay_revokes_family(client):
    tokens = register(client).json
    first = client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert first.status_code == 200
    # Replaying the used token is what a thief would do: the whole family dies.
    replay = client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert replay.status_code == 401
    after = client.post("/auth/refresh", json={"refresh_token": first.json["refresh_token"]})
    assert after.status_code == 401


def test_access_token_expires(client, clock):
    tokens = register(client).json
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    clock.advance(minutes=14)
    assert client.get("/auth/me", headers=headers).status_code == 200
    clock.advance(minutes=2)
    r = client.get("/auth/me", headers=headers)
    assert r.status_code == 401 and "expired" in r.json["message"]


def test_logout_ends_refresh(client):
    tokens = register(client).json
    assert (
        client.post("/auth/logout", json={"refresh_token": tokens["refresh_token"]}).status_code
        == 204
    )
    assert (
        client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).status_code
        == 401
    )


def test_staff_cannot_use_driver_profile(client, session):
    op = f.operator(session)
    staff = f.user(session, f.Role.OPERATOR_STAFF, operator_id=op.operator.id)
    session.commit()
    assert client.get("/auth/me", headers=f.login(client, staff)).status_code == 403


def test_bad_token_is_401(client):
    assert client.get("/auth/me", headers={"Authorization": "Bearer abc"}).status_code == 401
    assert client.get("/auth/me", headers={"Authorization": "Basic abc"}).status_code == 401


def test_tokens_follow_the_platform_clock_not_the_machine(client, clock):
    clock.advance(days=400)  # far past the machine's real date
    tokens = register(client).json
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert client.get("/auth/me", headers=headers).status_code == 200
