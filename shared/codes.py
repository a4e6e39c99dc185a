"""Company codes: generation, reading back what a person typed, and validity windows.

domain.md §5: codes are operator-generated secrets with at least 50 bits of entropy that
hotel staff read aloud to a guest or print on a card. Hence an alphabet without look-alike
characters and groups of four. Temporary codes are entered in the site's local time and
stored in UTC; the DST edge cases are decided here, once, so every caller agrees.
"""

from __future__ import annotations

import math
import secrets
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# Left out on purpose: 0/O and 1/I/L (look alike), U/V (look alike in many fonts and
# handwriting). What remains reads unambiguously over the phone as well.
ALPHABET = "ABCDEFGHJKMNPQRSTWXYZ23456789"
AMBIGUOUS = frozenset("0O1ILUV")
GROUP_SIZE = 4
GROUPS = 3
CODE_LENGTH = GROUP_SIZE * GROUPS
HINT_LENGTH = 4
ENTROPY_BITS = CODE_LENGTH * math.log2(len(ALPHABET))
MIN_ENTROPY_BITS = 50

# Import-time guard: shortening the code or the alphabet below the rule fails loudly.
assert ENTROPY_BITS >= MIN_ENTROPY_BITS, ENTROPY_BITS
assert not AMBIGUOUS & set(ALPHABET)
assert len(set(ALPHABET)) == len(ALPHABET)

_ALLOWED = frozenset(ALPHABET)
# Separators people type or that phones insert when a code is pasted: ignored.
_SEPARATORS = frozenset("-_.\u2010\u2011\u2012\u2013\u2014\u2015\u2212")


class MalformedCode(ValueError):
    """What was typed cannot be a code at all (wrong length or characters)."""


def generate() -> str:
    """A new code in its canonical form (no separators), from the OS's CSPRNG."""
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def format_code(code: str) -> str:
    """Group a canonical code for reading aloud: ABCD-EFGH-JKMN."""
    return "-".join(code[i : i + GROUP_SIZE] for i in range(0, len(code), GROUP_SIZE))


def hint(code: str) -> str:
    """The last characters, shown to the operator to tell codes apart; never enough to use."""
    return code[-HINT_LENGTH:]


def normalise(typed: str) -> str:
    """The canonical form of what a person typed: upper case, no spaces or dashes.

    Look-alike characters are NOT mapped (O→0 etc.): none of them is in the alphabet,
    so a silent guess could only turn one wrong code into another; the person is told
    instead which characters never occur.
    """
    kept = [c for c in typed if not c.isspace() and c not in _SEPARATORS]
    # str.upper() would turn 'ß' into 'SS'; anything non-ASCII is rejected below anyway.
    code = "".join(c.upper() if c.isascii() else c for c in kept)
    wrong = sorted({c for c in code if c not in _ALLOWED})
    if wrong:
        shown = ", ".join(repr(c) for c in wrong)
        raise MalformedCode(
            f"A code never contains {shown}. Codes use only the letters and digits "
            f"{ALPHABET} (no 0, O, 1, I, L, U or V)."
        )
    if len(code) != CODE_LENGTH:
        raise MalformedCode(
            f"A code has {CODE_LENGTH} characters (like {format_code('ABCD' * GROUPS)}); "
            f"this one has {len(code)}."
        )
    return code


def is_well_formed(typed: str) -> bool:
    try:
        normalise(typed)
    except MalformedCode:
        return False
    return True


class LocalTimeError(ValueError):
    """A local wall-clock time that cannot be turned into one instant."""


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise LocalTimeError(f"Unknown time zone {name!r}.") from exc


def local_to_utc(local: datetime, tz_name: str) -> datetime:
    """Turn a naive local wall-clock time at a site into an aware UTC instant.

    - A time inside the spring-forward gap never happens on the site's clocks: refused.
    - A time inside the fall-back hour happens twice: the FIRST occurrence (fold=0, still
      on summer time) is taken, for either end of a window — the 02:30 the clocks show
      first. Operators are told so in the API description.
    """
    if local.tzinfo is not None:
        raise LocalTimeError("Give the local wall-clock time at the site, without an offset.")
    tz = zone(tz_name)
    first = local.replace(tzinfo=tz, fold=0)
    instant = first.astimezone(UTC)
    # A gap time does not survive the round trip: 02:30 on spring-forward day comes back
    # as 03:30, because no clock at the site ever showed 02:30.
    if instant.astimezone(tz).replace(tzinfo=None) != local:
        raise LocalTimeError(
            f"{local:%Y-%m-%d %H:%M} does not exist in {tz_name}: the clocks jump forward "
            "over that hour for summer time. Choose a time after the change."
        )
    return instant


def utc_to_local(instant: datetime, tz_name: str) -> datetime:
    """The site's wall-clock time of an instant, naive, for showing back to the operator."""
    if instant.tzinfo is None:
        raise LocalTimeError("An instant must carry its offset.")
    return instant.astimezone(zone(tz_name)).replace(tzinfo=None)
