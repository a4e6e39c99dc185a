"""The payout port on Stripe Connect: a transfer from the platform's balance to the
operator's connected account (stack-notes, "Stripe and localstripe").

localstripe has no Connect, so this adapter is only made for real Stripe
(`make_payout_gateway`); the embedded default pays operators by bank transfer.
Every call goes through `StripeCalls._call`, so no Stripe exception leaves here; a
refusal becomes `PaymentRequestRejected` with words platform staff can act on.
"""

from __future__ import annotations

from typing import Any

import stripe

from backend.adapters.stripe_base import StripeCalls
from backend.adapters.stripe_objects import KEY, as_dict, ref_id
from backend.config import Settings
from backend.services.payment_gateway import (
    PaymentProviderUnavailable,
    PaymentRequestRejected,
    ProviderObjectMissing,
)
from backend.services.payout_gateway import PayoutGateway, TransferInfo

# Stripe's error codes for a transfer it refuses, in words for whoever must fix it.
REFUSALS = {
    "account_invalid": "The operator's Stripe account id is not a connected account of "
    "the platform; correct the operator's payout account, then retry.",
    "resource_missing": "Stripe does not know the operator's account; check its account "
    "id, then retry.",
    "balance_insufficient": "The platform's Stripe balance is too low for this transfer; "
    "top it up, then retry.",
    "insufficient_funds": "The platform's Stripe balance is too low for this transfer; "
    "top it up, then retry.",
    "transfers_not_allowed": "The operator's Stripe account may not receive transfers "
    "yet (onboarding not finished or restricted); retry once Stripe enables it.",
    "insufficient_capabilities_for_transfer": "The operator's Stripe account may not "
    "receive transfers yet (onboarding not finished or restricted); retry once Stripe "
    "enables it.",
}
KEY_REUSED = (
    "Stripe still holds an earlier transfer request of this payout (kept 24 hours) with "
    "another account or amount; retry after that."
)


def refusal_text(exc: BaseException | None) -> str:
    """Why Stripe refused, from its error: a known code in our words, else its own."""
    if isinstance(exc, stripe.IdempotencyError):
        return KEY_REUSED
    if isinstance(exc, stripe.StripeError):
        if exc.code in REFUSALS:
            return REFUSALS[exc.code]
        said = str(as_dict(exc.error).get("message") or "") if exc.error else ""
        code = f" ({exc.code})" if exc.code else ""
        return f"Stripe refused the transfer{code}: {said}"[:300].rstrip(": ")
    return "Stripe refused the transfer."


def transfer_info(d: dict[str, Any]) -> TransferInfo:
    return TransferInfo(
        id=str(d["id"]),
        amount_minor=int(d.get("amount") or 0),
        currency=str(d.get("currency") or "").upper(),
        destination=ref_id(d.get("destination")) or "",
        reversed=bool(d.get("reversed")),
    )


class StripePayouts(StripeCalls, PayoutGateway):
    """Connect transfers through stripe-python 16's StripeClient."""

    def __init__(
        self,
        secret_key: str,
        *,
        api_base: str | None = None,
        max_network_retries: int = 2,
        timeout_seconds: float = 20,
    ) -> None:
        # No publishable key or webhook secret: payouts neither confirm cards nor verify
        # webhooks.
        super().__init__(
            secret_key,
            "",
            "",
            api_base=api_base,
            max_network_retries=max_network_retries,
            timeout_seconds=timeout_seconds,
        )

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return super()._call(what, fn, *args, **kwargs)
        except (PaymentRequestRejected, ProviderObjectMissing) as exc:
            raise PaymentRequestRejected(refusal_text(exc.__cause__)) from exc.__cause__
        except PaymentProviderUnavailable as exc:
            cause = exc.__cause__
            # A key reused with other parameters is answered 400 and stays so until the
            # key expires; a concurrent request under the same key (409) is an outage.
            if isinstance(cause, stripe.IdempotencyError) and cause.http_status == 400:
                raise PaymentRequestRejected(KEY_REUSED) from cause
            raise

    def transfer(
        self,
        destination: str,
        amount_minor: int,
        currency: str,
        *,
        idempotency_key: str,
        transfer_group: str,
        metadata: dict[str, str],
    ) -> TransferInfo:
        t = self._call(
            "create transfer",
            self._client.v1.transfers.create,
            params={
                "amount": amount_minor,
                "currency": currency.lower(),
                "destination": destination,
                "transfer_group": transfer_group,
                "metadata": {**metadata, KEY: idempotency_key},
            },
            options={"idempotency_key": idempotency_key},
        )
        return transfer_info(as_dict(t))

    def find_transfer(self, transfer_group: str, idempotency_key: str) -> TransferInfo | None:
        rows = self._paged(
            "list transfers", self._client.v1.transfers, {"transfer_group": transfer_group}
        )
        for r in rows:
            if (r.get("metadata") or {}).get(KEY) == idempotency_key:
                return transfer_info(r)
        return None


def make_payout_gateway(settings: Settings) -> PayoutGateway | None:
    """Stripe Connect when STRIPE_CONNECT_PAYOUTS holds (it needs a real Stripe key);
    otherwise none: payouts are bank transfers that platform staff confirm."""
    if not settings.stripe_connect_payouts or not settings.stripe_secret_key:
        return None
    return StripePayouts(
        settings.stripe_secret_key,
        api_base=settings.stripe_api_base,
        max_network_retries=settings.stripe_max_network_retries,
        timeout_seconds=settings.stripe_timeout_seconds,
    )
