"""The real Stripe Connect payout adapter (stripe-python 16 over HTTP) against a loopback
server standing in for api.stripe.com's /v1/transfers (localstripe has no Connect):
the exact form fields and Idempotency-Key stripe-python sends, the lookup by transfer
group, and Stripe's errors as the port's domain errors."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from sqlalchemy.pool import StaticPool

import backend.db.models  # noqa: F401  (every table on the metadata)
from backend.adapters.stripe_payouts import KEY_REUSED, REFUSALS, StripePayouts
from backend.db import Base, make_engine, make_session_factory
from backend.db.models.settlements import Settlement
from backend.services import payouts
from backend.services.payment_gateway import PaymentProviderUnavailable, PaymentRequestRejected
from backend.services.payout_gateway import TransferInfo
from tests import factories as f

SECRET = "sk_test_" + "P" * 24
ACCOUNT = "acct_1XenonOperator"


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    form: dict[str, str]


@dataclass
class FakeStripe:
    """/v1/transfers as Stripe answers it; `replies` queues answers that override it."""

    url: str = ""
    seen: list[Seen] = field(default_factory=list)
    transfers: list[dict[str, Any]] = field(default_factory=list)
    replies: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    page_size: int = 100

    def add(self, form: dict[str, str]) -> dict[str, Any]:
        t = {
            "id": f"tr_{len(self.transfers) + 1:04d}",
            "object": "transfer",
            "amount": int(form["amount"]),
            "currency": form["currency"],
            "destination": form["destination"],
            "transfer_group": form.get("transfer_group"),
            "metadata": {k[9:-1]: v for k, v in form.items() if k.startswith("metadata[")},
            "reversed": False,
        }
        self.transfers.append(t)
        return t

    def answer(self, seen: Seen) -> tuple[int, dict[str, Any]]:
        self.seen.append(seen)
        if self.replies:
            return self.replies.pop(0)
        if seen.path != "/v1/transfers":
            return 404, error("invalid_request_error", "resource_missing", "Unrecognized URL")
        if seen.method == "POST":
            return 200, self.add(seen.form)
        rows = [t for t in self.transfers if t["transfer_group"] == seen.query["transfer_group"]]
        if "starting_after" in seen.query:
            ids = [t["id"] for t in rows]
            rows = rows[ids.index(seen.query["starting_after"]) + 1 :]
        page = rows[: min(self.page_size, int(seen.query.get("limit", 10)))]
        return 200, {
            "object": "list",
            "url": "/v1/transfers",
            "data": page,
            "has_more": len(rows) > len(page),
        }


def error(kind: str, code: str | None, message: str) -> dict[str, Any]:
    return {"error": {"type": kind, "code": code, "message": message}}


@pytest.fixture
def fake_stripe() -> Iterator[FakeStripe]:
    fake = FakeStripe()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            status, payload = fake.answer(
                Seen(
                    self.command,
                    parts.path,
                    dict(parse_qsl(parts.query, keep_blank_values=True)),
                    dict(self.headers.items()),
                    dict(parse_qsl(body, keep_blank_values=True)),
                )
            )
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _serve

        def log_message(self, *args: Any) -> None:  # keep the test output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield fake
    server.shutdown()
    server.server_close()


def adapter(url: str, retries: int = 0) -> StripePayouts:
    return StripePayouts(SECRET, api_base=url, max_network_retries=retries, timeout_seconds=5)


def send(gw: StripePayouts) -> TransferInfo:
    return gw.transfer(
        ACCOUNT,
        17099,
        "PLN",
        idempotency_key="wp-payout-5",
        transfer_group="wp-settlement-5",
        metadata={"wattpass_payout_id": "9", "period": "2026-11"},
    )


def test_a_transfer_posts_the_exact_form_and_idempotency_key(fake_stripe):
    info = send(adapter(fake_stripe.url))
    [req] = fake_stripe.seen
    assert (req.method, req.path) == ("POST", "/v1/transfers")
    assert req.form == {
        "amount": "17099",
        "currency": "pln",
        "destination": ACCOUNT,
        "transfer_group": "wp-settlement-5",
        "metadata[wattpass_payout_id]": "9",
        "metadata[period]": "2026-11",
        "metadata[wattpass_key]": "wp-payout-5",
    }
    assert req.headers["Idempotency-Key"] == "wp-payout-5"
    assert req.headers["Authorization"] == f"Bearer {SECRET}"
    assert info == TransferInfo("tr_0001", 17099, "PLN", ACCOUNT, reversed=False)


def test_find_transfer_lists_the_group_page_by_page_and_matches_the_key(fake_stripe):
    gw = adapter(fake_stripe.url)
    fake_stripe.page_size = 2
    for key in ("wp-payout-1", "wp-payout-2", "wp-payout-5"):
        form = {"amount": "100", "currency": "pln", "destination": ACCOUNT}
        form |= {"transfer_group": "wp-settlement-5", "metadata[wattpass_key]": key}
        fake_stripe.add(form)
    found = gw.find_transfer("wp-settlement-5", "wp-payout-5")
    assert found is not None and (found.id, found.amount_minor) == ("tr_0003", 100)
    first, second = fake_stripe.seen
    assert (first.method, first.path) == ("GET", "/v1/transfers")
    assert first.query == {"transfer_group": "wp-settlement-5", "limit": "100"}
    assert second.query["starting_after"] == "tr_0002"
    assert gw.find_transfer("wp-settlement-5", "wp-payout-7") is None
    assert gw.find_transfer("wp-settlement-6", "wp-payout-5") is None


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (400, error("invalid_request_error", "account_invalid", "No such destination"),
         REFUSALS["account_invalid"]),
        (400, error("invalid_request_error", "balance_insufficient", "Insufficient funds"),
         REFUSALS["balance_insufficient"]),
        (404, error("invalid_request_error", "resource_missing", "No such account"),
         REFUSALS["resource_missing"]),
        (400, error("idempotency_error", None, "Keys for idempotent requests can only be used "
                    "with the same parameters"), KEY_REUSED),
        (400, error("invalid_request_error", "parameter_unknown", "Received unknown parameter"),
         "Stripe refused the transfer (parameter_unknown): Received unknown parameter"),
    ],
)  # fmt: skip
def test_a_refused_transfer_is_a_rejection_in_words(fake_stripe, status, body, message):
    fake_stripe.replies.append((status, body))
    with pytest.raises(PaymentRequestRejected) as exc:
        send(adapter(fake_stripe.url))
    assert exc.value.message == message


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (500, error("api_error", None, "Something went wrong on Stripe's end.")),
        (409, error("idempotency_error", None, "A request with this key is in progress.")),
        (429, error("rate_limit_error", "rate_limit", "Too many requests")),
        (401, error("invalid_request_error", None, "Invalid API Key provided: sk_test_****")),
    ],
)
def test_stripe_errors_of_its_own_are_outages(fake_stripe, caplog, status, body):
    fake_stripe.replies.append((status, body))
    with caplog.at_level(logging.DEBUG), pytest.raises(PaymentProviderUnavailable):
        send(adapter(fake_stripe.url))
    assert SECRET not in caplog.text


def test_a_retry_of_a_failed_request_carries_the_same_idempotency_key(fake_stripe):
    fake_stripe.replies.append((500, error("api_error", None, "Try again")))
    info = send(adapter(fake_stripe.url, retries=1))
    assert [r.headers["Idempotency-Key"] for r in fake_stripe.seen] == ["wp-payout-5"] * 2
    assert info.id == "tr_0001" and len(fake_stripe.transfers) == 1


def test_a_refused_connection_is_an_outage():
    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    gw = adapter(f"http://127.0.0.1:{port}")
    with pytest.raises(PaymentProviderUnavailable):
        send(gw)
    with pytest.raises(PaymentProviderUnavailable):
        gw.find_transfer("wp-settlement-5", "wp-payout-5")


# --- the payout service on the real adapter ---------------------------------------------------


@pytest.fixture
def s():
    engine = make_engine("sqlite://", poolclass=StaticPool)
    Base.metadata.create_all(engine)
    with make_session_factory(engine)() as session:
        yield session
    engine.dispose()


def stripe_payout(s):
    op = f.operator(s).operator
    op.stripe_account_id = ACCOUNT
    st = Settlement(
        number="WP/R/2026/000001", operator_id=op.id, period="2026-11", business_case="P1",
        currency="PLN", vat_rate=Decimal("0.23"), terms="{}", charge_points=1,
        energy_kwh=Decimal("120"), revenue_net_minor=14634, fee_net_minor=732,
        direction="payout", net_minor=13902, vat_minor=3197, gross_minor=17099, lines="[]",
    )  # fmt: skip
    s.add(st)
    s.flush()
    p = payouts.open_payout(s, st, op, connect=True)
    s.commit()
    return p


NOW = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)


def test_send_looks_the_transfer_up_first_then_makes_it(s, fake_stripe):
    p = stripe_payout(s)
    payouts.send(s, adapter(fake_stripe.url), p, NOW)
    assert [(r.method, r.path) for r in fake_stripe.seen] == [
        ("GET", "/v1/transfers"),
        ("POST", "/v1/transfers"),
    ]
    post = fake_stripe.seen[1]
    assert post.headers["Idempotency-Key"] == p.idempotency_key == f"wp-payout-{p.settlement_id}"
    assert post.form["transfer_group"] == f"wp-settlement-{p.settlement_id}"
    assert (post.form["amount"], post.form["currency"]) == ("17099", "pln")
    assert (p.status, p.provider_id) == ("paid", "tr_0001")


def test_send_adopts_a_transfer_a_crash_left_unrecorded(s, fake_stripe):
    p = stripe_payout(s)
    made = fake_stripe.add({
        "amount": "17099", "currency": "pln", "destination": ACCOUNT,
        "transfer_group": f"wp-settlement-{p.settlement_id}",
        "metadata[wattpass_key]": p.idempotency_key,
    })  # fmt: skip
    payouts.send(s, adapter(fake_stripe.url), p, NOW)
    assert (p.status, p.provider_id) == ("paid", made["id"])
    assert [r.method for r in fake_stripe.seen] == ["GET"]  # no second transfer


def test_send_records_a_refusal_and_an_outage(s, fake_stripe):
    p = stripe_payout(s)
    gw = adapter(fake_stripe.url)
    fake_stripe.replies.append((500, error("api_error", None, "down")))
    assert payouts.send(s, gw, p, NOW).status == "pending"
    fake_stripe.replies.append((400, error("invalid_request_error", "account_invalid", "x")))
    fake_stripe.replies.insert(0, (200, {"object": "list", "data": [], "has_more": False}))
    assert payouts.send(s, gw, p, NOW).status == "failed"
    assert p.failure == REFUSALS["account_invalid"] and fake_stripe.transfers == []
