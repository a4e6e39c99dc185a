"""An in-memory payout gateway for unit tests: a fake of our own port.

It honours idempotency keys like Stripe (the same key is the same transfer; the same key
with other parameters is refused) and lets a test break it on purpose: `fail_next()`
(Stripe refuses), `outage_next()` (Stripe unreachable), `crash_after_next()` (Stripe made
the transfer, then our process died before it heard the answer).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from typing import Any

from backend.services.payment_gateway import PaymentProviderUnavailable, PaymentRequestRejected
from backend.services.payout_gateway import PayoutGateway, TransferInfo


class SimulatedCrash(RuntimeError):
    """The process died between Stripe's answer and our commit."""


@dataclass
class FakeTransfer:
    info: TransferInfo
    transfer_group: str
    metadata: dict[str, str]
    idempotency_key: str


@dataclass
class FakePayouts(PayoutGateway):
    transfers: dict[str, FakeTransfer] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)  # "transfer <key>" / "find <key>"
    invalid_accounts: set[str] = field(default_factory=set)
    _by_key: dict[str, str] = field(default_factory=dict)
    _next: list[tuple[str, Any]] = field(default_factory=list)
    _ids: Any = field(default_factory=itertools.count)

    # --- test controls ---------------------------------------------------------------------

    def fail_next(self, message: str = "Stripe refused the transfer.") -> None:
        self._next.append(("fail", message))

    def outage_next(self) -> None:
        self._next.append(("outage", None))

    def crash_after_next(self) -> None:
        self._next.append(("crash", None))

    def reverse(self, transfer_id: str) -> None:
        t = self.transfers[transfer_id]
        t.info = replace(t.info, reversed=True)

    def made(self) -> list[TransferInfo]:
        """Every transfer that moved money, oldest first."""
        return [t.info for t in self.transfers.values()]

    # --- the port ----------------------------------------------------------------------------

    def _control(self, what: str) -> str | None:
        if not self._next:
            return None
        kind, message = self._next.pop(0)
        if kind == "outage":
            raise PaymentProviderUnavailable()
        if kind == "fail" and what == "transfer":
            raise PaymentRequestRejected(message)
        return kind

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
        self.calls.append(f"transfer {idempotency_key}")
        after = self._control("transfer")
        if idempotency_key in self._by_key:
            earlier = self.transfers[self._by_key[idempotency_key]]
            if (earlier.info.destination, earlier.info.amount_minor) != (
                destination,
                amount_minor,
            ):
                raise PaymentRequestRejected("Idempotency key reused with other parameters.")
            return earlier.info
        if destination in self.invalid_accounts:
            raise PaymentRequestRejected("No such connected account.")
        info = TransferInfo(f"tr_fake_{next(self._ids)}", amount_minor, currency, destination)
        self.transfers[info.id] = FakeTransfer(
            info, transfer_group, dict(metadata), idempotency_key
        )
        self._by_key[idempotency_key] = info.id
        if after == "crash":
            raise SimulatedCrash("the process died before it heard Stripe's answer")
        return info

    def find_transfer(self, transfer_group: str, idempotency_key: str) -> TransferInfo | None:
        self.calls.append(f"find {idempotency_key}")
        if self._next and self._next[0][0] == "outage":
            self._control("find")
        for t in self.transfers.values():
            if t.transfer_group == transfer_group and t.idempotency_key == idempotency_key:
                return t.info
        return None
