"""localstripe for the tests: one server per worker, wiped between tests, and helpers that
do what the app does (confirm a SetupIntent or 3-D Secure with the publishable key).

A test module that talks to it points the suite's settings at it:

    @pytest.fixture
    def settings(settings, stripe_env):
        return stripe_env.settings_for(settings)

Webhooks need a real HTTP server (localstripe POSTs them ~1 s after the event):
`webhook_receiver` serves the test's app on a free loopback port and registers it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import stripe

from backend.adapters.localstripe_server import LocalStripe
from backend.config import LOCAL_PUBLISHABLE_KEY, LOCAL_SECRET_KEY, Settings

stripe.enable_telemetry = False

OK_CARD = "4242424242424242"
DECLINED_AT_ATTACH = "4000000000000002"
DECLINED_WHEN_CHARGED = "4000000000000341"
NEEDS_3DS = "4000002500003155"


@dataclass
class StripeEnv:
    server: LocalStripe
    webhook_secret: str

    @property
    def url(self) -> str:
        return self.server.url

    def settings_for(self, settings: Settings) -> Settings:
        """The suite's settings, with payments on this worker's localstripe."""
        return dataclasses.replace(
            settings,
            stripe_api_base=self.url,
            stripe_webhook_secret=self.webhook_secret,
            stripe_max_network_retries=0,
            stripe_timeout_seconds=10,
        )

    # --- what the app does, with the publishable key -------------------------------------

    def _post(self, path: str, data: dict[str, str]) -> tuple[int, dict[str, Any]]:
        body = urllib.parse.urlencode(data).encode()
        req = urllib.request.Request(self.url + path, data=body)  # noqa: S310 - loopback
        try:
            with urllib.request.urlopen(req, timeout=10) as r:  # noqa: S310
                return r.status, json.load(r)
        except urllib.error.HTTPError as e:
            return e.code, json.load(e)

    def confirm_setup(self, setup: dict[str, Any], number: str) -> tuple[int, dict[str, Any]]:
        """Confirm a SetupIntent the API handed out, as the app's Stripe SDK would."""
        assert setup["api_base"] == self.url
        seti = setup["client_secret"].split("_secret_")[0]
        return self._post(
            f"/v1/setup_intents/{seti}/confirm",
            {
                "key": setup["publishable_key"],
                "client_secret": setup["client_secret"],
                "payment_method_data[type]": "card",
                "payment_method_data[card][number]": number,
                "payment_method_data[card][exp_month]": "12",
                "payment_method_data[card][exp_year]": "2030",
                "payment_method_data[card][cvc]": "123",
            },
        )

    def authenticate(self, client_secret: str, success: bool = True) -> tuple[int, dict[str, Any]]:
        """The cardholder passes (or fails) 3-D Secure in the app."""
        pi = client_secret.split("_secret_")[0]
        return self._post(
            f"/v1/payment_intents/{pi}/_authenticate",
            {
                "key": LOCAL_PUBLISHABLE_KEY,
                "client_secret": client_secret,
                "success": "true" if success else "false",
            },
        )

    # --- the operator's view of Stripe (secret key), for arranging and checking ---------

    @property
    def admin(self) -> stripe.StripeClient:
        return stripe.StripeClient(
            LOCAL_SECRET_KEY, base_addresses={"api": self.url}, max_network_retries=0
        )

    def attach_card(self, customer_id: str, number: str) -> str:
        """A card attached server-side (e.g. one that passed 3-D Secure at setup, which
        localstripe cannot do through a SetupIntent)."""
        card = {"number": number, "exp_month": 12, "exp_year": 2030, "cvc": "123"}
        pm = self.admin.v1.payment_methods.create(params={"type": "card", "card": card})
        self.admin.v1.payment_methods.attach(pm.id, params={"customer": customer_id})
        return str(pm.id)

    def intents(self, customer_id: str) -> list[dict[str, Any]]:
        page = self.admin.v1.payment_intents.list(params={"limit": 100}).to_dict()
        return [pi for pi in page["data"] if pi.get("customer") == customer_id]

    def sign(self, payload: bytes, secret: str | None = None) -> dict[str, str]:
        """A Stripe-Signature header for `payload` (as Stripe would compute it)."""
        ts = int(time.time())
        key = (secret or self.webhook_secret).encode()
        sig = hmac.new(key, f"{ts}.".encode() + payload, hashlib.sha256).hexdigest()
        return {"Stripe-Signature": f"t={ts},v1={sig}", "Content-Type": "application/json"}

    def event(self, event_type: str, obj: dict[str, Any], event_id: str | None = None) -> bytes:
        return json.dumps(
            {
                "id": event_id or f"evt_test_{secrets.token_hex(6)}",
                "object": "event",
                "type": event_type,
                "created": int(time.time()),
                "data": {"object": obj},
            }
        ).encode()


@pytest.fixture(scope="session")
def localstripe_server() -> Iterator[LocalStripe]:
    """One localstripe per test worker, on loopback, in memory only."""
    server = LocalStripe()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def stripe_env(localstripe_server: LocalStripe) -> StripeEnv:
    if not localstripe_server.alive():  # a test stopped it: a fresh one for the rest
        localstripe_server.start()
    localstripe_server.wipe()
    # A secret per test: a late webhook from an earlier test fails the signature check.
    return StripeEnv(localstripe_server, f"whsec_test_{secrets.token_hex(16)}")


@pytest.fixture
def webhook_receiver(app: Any, stripe_env: StripeEnv) -> Iterator[str]:
    """The test's app served over HTTP, registered as localstripe's webhook endpoint."""
    from backend.server import WsgiServer

    server = WsgiServer("webhooks", app, "127.0.0.1", 0, threads=4)
    server.start()
    url = f"{server.url}/stripe/webhooks"
    stripe_env.server.register_webhook("wattpass", url, stripe_env.webhook_secret)
    yield url
    server.stop()


def wait_for(check: Callable[[], Any], timeout: float = 8.0, what: str = "condition") -> Any:
    """Poll until `check()` is truthy (webhooks arrive ~1 s after the event)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def save_card(client: Any, headers: dict[str, str], env: StripeEnv, number: str = OK_CARD) -> Any:
    """The app's journey: ask for a SetupIntent, confirm it at Stripe, sync."""
    setup = client.post("/me/cards/setup-intent", headers=headers)
    assert setup.status_code == 201, setup.json
    status, body = env.confirm_setup(setup.json, number)
    assert status == 200, body
    cards = client.post("/me/cards/sync", headers=headers)
    assert cards.status_code == 200, cards.json
    return cards.json
