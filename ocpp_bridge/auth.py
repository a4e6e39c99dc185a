"""Security profile 1/2 at the handshake: HTTP Basic, username = the charger's identity,
password checked against ChargePoint.password_hash (argon2).

argon2 is slow on purpose (tens of milliseconds at production cost), so a reconnect
storm of 2,000 chargers would spend minutes hashing. A successful check is remembered in
memory under (identity, sha256(password), stored hash): the next connection with the same
password costs one SHA-256 and a database read, and a rotated password (a new stored
hash) misses the cache and is checked for real. Failures are never cached.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

from backend.security.passwords import verify_password
from backend.services.charger_state import ChargerFacts, load_charger
from ocpp_bridge.persistence import Database


class ChargerAuthenticator:
    def __init__(self, db: Database, threads: int, cache_size: int) -> None:
        self._db = db
        self._argon = ThreadPoolExecutor(threads, thread_name_prefix="bridge-argon2")
        self._cache: OrderedDict[str, tuple[bytes, str]] = OrderedDict()
        self._cache_size = cache_size
        self.verifications = 0  # argon2 runs, for tests and metrics

    async def charger(self, identity: str) -> ChargerFacts | None:
        return await self._db.run(load_charger, identity)

    async def check(self, facts: ChargerFacts, password: str) -> bool:
        """Whether ``password`` is the charger's password."""
        stored = facts.password_hash
        if not stored:  # no password set: security profile 0 is not offered
            return False
        digest = hashlib.sha256(password.encode()).digest()
        cached = self._cache.get(facts.identity)
        if cached is not None and cached[1] == stored and hmac.compare_digest(cached[0], digest):
            self._cache.move_to_end(facts.identity)
            return True
        loop = asyncio.get_running_loop()
        self.verifications += 1
        ok = await loop.run_in_executor(self._argon, verify_password, stored, password)
        if ok:
            self._cache[facts.identity] = (digest, stored)
            self._cache.move_to_end(facts.identity)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        else:
            self._cache.pop(facts.identity, None)
        return bool(ok)

    def close(self) -> None:
        self._argon.shutdown(wait=True)
