"""The payout port: what the platform needs to send an operator its settlement money.

Real Stripe does it with Connect transfers to the operator's connected account
(`backend.adapters.stripe_payouts`); `backend.adapters.fake_payouts` does it in memory
for unit tests. localstripe has no Connect, so the embedded default has no payout
gateway at all and payouts are bank transfers that platform staff confirm.

Amounts are integer minor units, currencies ISO codes in upper case. Failures are the
payment port's domain errors: `PaymentProviderUnavailable` when Stripe cannot be
reached or answers with an error of its own (retry later, with the same key), and
`PaymentRequestRejected` when it refuses the request itself (a bad or restricted
account, too little platform balance): a person must act before it can succeed.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass


@dataclass(frozen=True)
class TransferInfo:
    """A transfer as the processor sees it now."""

    id: str
    amount_minor: int
    currency: str
    destination: str
    reversed: bool = False


class PayoutGateway(abc.ABC):
    @abc.abstractmethod
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
        """Move `amount_minor` from the platform's balance to the connected account.
        A repeat with the same key is the same transfer (never a second one); the key
        is also kept in the transfer's metadata so `find_transfer` can find it."""

    @abc.abstractmethod
    def find_transfer(self, transfer_group: str, idempotency_key: str) -> TransferInfo | None:
        """The transfer made earlier under this key in this group, if any: what a crash
        between the processor's answer and our commit left us not knowing."""
