"""Security profile 1/2 at the handshake: HTTP Basic, username = the charger's identity,
password checked against ChargePoint.password_hash (argon2).

argon2 is slow on purpose (tens of milliseconds at production cost), so a reconnect
storm of 2,000 chargers would spend minutes hashing. A successful check is remembered in
memory under (identity, sha256(password), stored hash): the next connection with the same
password costs one SHA-256 and a database read, and a rotated password (a new stored
hash) misses the cache and is checked for real. Failures are never cached.

Wrong passwords are throttled per identity and per client address, so guessing costs the
guesser time and cannot make the bridge burn its CPU in argon2. A charger whose password
was verified before still gets in while its identity is throttled (the cache answers
without argon2): an attacker hammering a charger's identity cannot lock that charger out.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from backend.security.passwords import verify_password
from backend.services.charger_state import ChargerFacts, load_charger
from ocpp_bridge.persistence import Database


class FailureThrottle:
    """At most ``limit`` failures per key within ``window_s``; memory bounded by ``max_keys``."""

    def __init__(
        self,
        limit: int,
        window_s: float,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit, self.window_s, self.max_keys, self._clock = limit, window_s, max_keys, clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def retry_after(self, key: str) -> int:
        """Seconds until ``key`` may try again; 0 when it may try now."""
        failures = self._recent(key)
        if failures is None or len(failures) < self.limit:
            return 0
        return max(1, int(failures[0] + self.window_s - self._clock()) + 1)

    def failed(self, key: str) -> None:
        failures = self._recent(key)
        if failures is None:
            failures = self._failures[key] = deque(maxlen=self.limit)
            while len(self._failures) > self.max_keys:
                self._failures.popitem(last=False)
        failures.append(self._clock())
        self._failures.move_to_end(key)

    def _recent(self, key: str) -> deque[float] | None:
        failures = self._failures.get(key)
        if failures is None:
            return None
        horizon = self._clock() - self.window_s
        while failures and failures[0] <= horizon:
            failures.popleft()
        if not failures:
            del self._failures[key]
            return None
        return failures


class ChargerAuthenticator:
    def __init__(
        self,
        db: Database,
        threads: int,
        cache_size: int,
        *,
        per_identity: FailureThrottle | None = None,
        per_address: FailureThrottle | None = None,
    ) -> None:
        self._db = db
        # A real charger retries every few seconds after a wrong password; ten failures in
        # five minutes is a misconfiguration or a guesser. Many chargers can sit behind one
        # NAT address, so that limit is wider.
        self.per_identity = per_identity or FailureThrottle(10, 300.0)
        self.per_address = per_address or FailureThrottle(50, 300.0)
        self._argon = ThreadPoolExecutor(threads, thread_name_prefix="bridge-argon2")
        self._cache: OrderedDict[str, tuple[bytes, str]] = OrderedDict()
        self._cache_size = cache_size
        self.verifications = 0  # argon2 runs, for tests and metrics

    async def charger(self, identity: str) -> ChargerFacts | None:
        return await self._db.run(load_charger, identity)

    def known_good(self, facts: ChargerFacts, password: str) -> bool:
        """Whether this password was verified for this charger before (no argon2)."""
        stored = facts.password_hash
        if not stored:
            return False
        digest = hashlib.sha256(password.encode()).digest()
        cached = self._cache.get(facts.identity)
        if cached is not None and cached[1] == stored and hmac.compare_digest(cached[0], digest):
            self._cache.move_to_end(facts.identity)
            return True
        return False

    def retry_after(self, identity: str, address: str) -> int:
        return max(self.per_identity.retry_after(identity), self.per_address.retry_after(address))

    def failed(self, identity: str, address: str) -> None:
        self.per_identity.failed(identity)
        self.per_address.failed(address)

    async def check(self, facts: ChargerFacts, password: str) -> bool:
        """Whether ``password`` is the charger's password."""
        stored = facts.password_hash
        if not stored:  # no password set: security profile 0 is not offered
            return False
        if self.known_good(facts, password):
            return True
        digest = hashlib.sha256(password.encode()).digest()
        loop = asyncio.get_running_loop()
        self.verifications += 1
        ok = await loop.run_in_executor(self._argon, verify_password, stored, password)
        if ok:
            self._cache[facts.identity] = (digest, stored)
            self._cache.move_to_end(facts.identity)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return bool(ok)

    def close(self) -> None:
        self._argon.shutdown(wait=True)
