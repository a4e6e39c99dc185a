"""The stripe-python 16 client, and Stripe's errors as the port's domain errors."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import stripe

from backend.adapters.stripe_objects import as_dict, decline_text, ref_id
from backend.services.payment_gateway import (
    AuthenticationRequired,
    CardDeclined,
    PaymentProviderUnavailable,
    PaymentRequestRejected,
    ProviderObjectMissing,
)

log = logging.getLogger("wattpass.payments")
# stripe-python logs every request at INFO with its URL, and a customer search puts the
# driver's e-mail in it: personal data stays out of our logs, whatever the log level.
logging.getLogger("stripe").setLevel(logging.WARNING)

MAX_PAGES = 20


class StripeCalls:
    """A StripeClient pointed at Stripe or at localstripe (`api_base`); every call goes
    through `_call`, so no Stripe exception leaves the adapter."""

    def __init__(
        self,
        secret_key: str,
        publishable_key: str,
        webhook_secret: str,
        *,
        api_base: str | None = None,
        app_api_base: str | None = None,
        max_network_retries: int = 2,
        timeout_seconds: float = 20,
    ) -> None:
        stripe.enable_telemetry = False  # or it writes under ~/.config (stack-notes)
        self.publishable_key = publishable_key
        self.app_api_base = app_api_base
        self._webhook_secret = webhook_secret
        self.api_base = api_base or stripe.DEFAULT_API_BASE
        self._client = stripe.StripeClient(
            secret_key,
            base_addresses={"api": self.api_base},
            max_network_retries=max_network_retries,
            http_client=stripe.RequestsClient(timeout=timeout_seconds),
        )

    def __repr__(self) -> str:  # the key never reaches a log line
        return f"{type(self).__name__}(api_base={self.api_base!r})"

    # --- error translation ----------------------------------------------------------

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except stripe.CardError as exc:
            raise self._card_error(exc) from exc
        except stripe.InvalidRequestError as exc:
            if exc.http_status == 404:
                raise ProviderObjectMissing(
                    "The payment processor no longer knows this card or payment."
                ) from exc
            log.warning("stripe rejected %s: %s", what, exc.user_message or exc.code)
            raise PaymentRequestRejected(
                "The payment processor refused this request in the payment's current state."
            ) from exc
        except (stripe.APIConnectionError, stripe.APIError, stripe.RateLimitError) as exc:
            log.warning("stripe unavailable during %s: %s", what, type(exc).__name__)
            raise PaymentProviderUnavailable() from exc
        except (stripe.AuthenticationError, stripe.PermissionError) as exc:
            # Our key is wrong or revoked: a configuration fault the driver cannot fix.
            log.error("stripe refused our credentials during %s", what)
            raise PaymentProviderUnavailable() from exc
        except stripe.StripeError as exc:
            log.warning("stripe error during %s: %s", what, type(exc).__name__)
            raise PaymentProviderUnavailable() from exc

    def _card_error(self, exc: stripe.CardError) -> Exception:
        err = as_dict(exc.error) if exc.error else {}
        intent_id = ref_id(err.get("payment_intent"))
        if intent_id is None and err.get("charge"):
            # localstripe names the failed charge only; its intent is one call away.
            try:
                charge = self._client.v1.charges.retrieve(str(err["charge"]))
                intent_id = ref_id(as_dict(charge).get("payment_intent"))
            except stripe.StripeError:
                intent_id = None
        if exc.code == "authentication_required":
            return AuthenticationRequired(intent_id=intent_id)
        decline = err.get("decline_code") or exc.code
        return CardDeclined(
            decline_text(err.get("decline_code"), exc.user_message),
            decline_code=decline,
            intent_id=intent_id,
        )

    def _paged(self, what: str, service: Any, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        params = {**params, "limit": 100}
        for _ in range(MAX_PAGES):
            page = as_dict(self._call(what, service.list, params=params))
            rows = page.get("data") or []
            yield from rows
            if not page.get("has_more") or not rows:
                return
            params["starting_after"] = rows[-1]["id"]
