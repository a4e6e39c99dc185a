"""The embedded platform's payments as `wattpass run` wires them: no STRIPE_SECRET_KEY, so
a localstripe of its own on loopback, its webhooks registered back to the API and signed
with the derived secret — exercised over real HTTP, card to capture to webhook."""

from __future__ import annotations

import dataclasses
import json
import time
import urllib.request
from typing import Any

from sqlalchemy import select

from backend import cli
from backend.adapters.localstripe_server import free_port
from backend.app import create_app
from backend.bootstrap import bootstrap
from backend.config import local_webhook_secret
from backend.db.models.payments import StripeEvent
from backend.server import WsgiServer
from tests import factories as f
from tests.payments_fixtures import OK_CARD, StripeEnv, wait_for


def _http(method: str, url: str, headers: dict[str, str] | None = None, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))  # noqa: S310
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=10) as r:  # noqa: S310 - loopback
        return json.load(r)


def test_run_starts_localstripe_and_its_webhooks_reach_the_api(settings, container, session, clock):
    # What `wattpass run` sees with no payment settings at all.
    local = dataclasses.replace(settings, stripe_webhook_secret=None, stripe_api_base=None)
    assert local.stripe_webhook_secret == local_webhook_secret(local.secret_key)
    port = free_port()
    wired, components = cli.payment_components(local, "0.0.0.0", port)  # noqa: S104
    [localstripe] = components
    assert wired.stripe_api_base == localstripe.url
    assert localstripe.webhook_url == f"http://127.0.0.1:{port}/stripe/webhooks"
    assert localstripe.banner()[0].startswith("localstripe")

    platform = bootstrap(wired, clock=clock)
    api = WsgiServer("api", create_app(container=platform), "127.0.0.1", port)
    localstripe.start()
    api.start()
    try:
        u = f.user(session)
        session.commit()
        base = f"http://127.0.0.1:{port}"
        token = _http("POST", f"{base}/auth/login", body={"email": u.email, "password": f.PASSWORD})
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        setup = _http("POST", f"{base}/me/cards/setup-intent", headers)
        assert setup["api_base"] == localstripe.url  # the app sends the card there
        env = StripeEnv(localstripe, wired.stripe_webhook_secret or "")
        status, _ = env.confirm_setup(setup, OK_CARD)
        assert status == 200
        assert [c["last4"] for c in _http("GET", f"{base}/me/cards", headers)] == ["4242"]

        with platform.session_factory() as s:
            hold = platform.billing.place_hold(s, 1, u.id, "PLN", clock())
            platform.billing.settle(s, 1, 1234)
            intent = hold.stripe_payment_intent_id

        def delivered() -> bool:
            session.expire_all()
            rows = session.scalars(select(StripeEvent).where(StripeEvent.object_id == intent))
            return any(r.status == "processed" for r in rows)

        wait_for(delivered, what="localstripe's signed webhook at the API")
    finally:
        api.stop()
        localstripe.stop()
        platform.close()
    time.sleep(0.1)
    assert not localstripe.alive()
