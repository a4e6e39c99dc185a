"""RFID cards (OCPP idTag) an operator hands to its company drivers (domain.md §2, SEMI).

The operator registers, lists, blocks and unblocks them; the OCPP bridge asks
`authorize_id_tag` whether a card presented at a charger may start a session.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.db.models import RfidToken, Site, User
from backend.db.models.enums import Role, Visibility
from backend.errors import Conflict, InvalidInput, NotFound
from backend.services.accounts import normalise_email
from backend.services.codes import get_operator, price_group_of
from backend.services.visibility import valid_id

# OCPP 1.6 IdToken is CiString20Type: at most 20 printable ASCII characters, compared
# without regard to case. Keeping 1.6's limit lets one card work on every charger.
ID_TAG_MAX = 20
OPEN_TO_EVERYONE = {Visibility.PUBLIC.value, Visibility.SEMI_PUBLIC.value}


def normalise_id_tag(raw: str) -> str:
    """Canonical idTag: trimmed and upper-cased, since OCPP compares it case-insensitively
    (so '04a1b2' and '04A1B2' are one card, and the unique index can enforce it)."""
    tag = raw.strip()
    if not 1 <= len(tag) <= ID_TAG_MAX:
        raise InvalidInput(
            "An idTag has 1 to 20 characters.",
            errors={"id_tag": [f"1 to {ID_TAG_MAX} characters (OCPP 1.6)."]},
        )
    if not all(" " <= c <= "~" for c in tag):
        raise InvalidInput(
            "An idTag uses printable ASCII characters only.",
            errors={"id_tag": ["Printable ASCII characters only (OCPP CiString)."]},
        )
    return tag.upper()


@dataclass(frozen=True)
class NewToken:
    id_tag: str
    price_group_id: int
    label: str = ""
    driver_id: int | None = None
    driver_email: str | None = None


@dataclass(frozen=True)
class TokenView:
    token: RfidToken
    driver_email: str | None


def _resolve_driver(s: Session, new: NewToken) -> int | None:
    if new.driver_id is not None and new.driver_email:
        raise InvalidInput(
            "Name the driver by e-mail or by id, not both.",
            errors={"driver_email": ["Give either driver_email or driver_id."]},
        )
    if new.driver_email:
        user = s.scalar(select(User).where(User.email == normalise_email(new.driver_email)))
        field, wanted = "driver_email", "No driver account has this e-mail."
    elif new.driver_id is not None:
        user = s.get(User, new.driver_id) if valid_id(new.driver_id) else None
        field, wanted = "driver_id", "No driver account has this id."
    else:
        return None
    if user is None or user.role != Role.DRIVER.value:
        raise InvalidInput(wanted, errors={field: [wanted]})
    return user.id


def register_token(s: Session, operator_id: int, new: NewToken, now: datetime) -> TokenView:
    get_operator(s, operator_id)
    tag = normalise_id_tag(new.id_tag)
    group = price_group_of(s, operator_id, new.price_group_id)
    driver_id = _resolve_driver(s, new)
    taken = Conflict(
        "This card is already registered.",
        errors={"id_tag": ["Already registered (idTags are unique across the platform)."]},
    )
    # Looked up across all operators; the answer does not say whose card it is.
    if s.scalar(select(RfidToken.id).where(RfidToken.id_tag == tag)) is not None:
        raise taken
    token = RfidToken(
        operator_id=operator_id,
        id_tag=tag,
        driver_id=driver_id,
        price_group_id=group.id,
        label=new.label.strip(),
        created_at=now,
    )
    s.add(token)
    try:
        s.commit()
    except IntegrityError as exc:  # a concurrent registration of the same card
        s.rollback()
        raise taken from exc
    return _view(s, token)


def _view(s: Session, token: RfidToken) -> TokenView:
    email = (
        s.scalar(select(User.email).where(User.id == token.driver_id)) if token.driver_id else None
    )
    return TokenView(token, email)


def list_tokens(
    s: Session,
    operator_id: int,
    *,
    blocked: bool | None = None,
    offset: int = 0,
    limit: int = 20,
) -> tuple[list[TokenView], int]:
    get_operator(s, operator_id)
    where = [RfidToken.operator_id == operator_id]
    if blocked is not None:
        where.append(
            RfidToken.blocked_at.is_not(None) if blocked else RfidToken.blocked_at.is_(None)
        )
    total = s.scalar(select(func.count()).select_from(RfidToken).where(*where)) or 0
    rows = s.execute(
        select(RfidToken, User.email)
        .outerjoin(User, User.id == RfidToken.driver_id)
        .where(*where)
        .order_by(RfidToken.created_at.desc(), RfidToken.id.desc())
        .offset(offset)
        .limit(limit)
    ).all()
    return [TokenView(token, email) for token, email in rows], total


def get_token(s: Session, operator_id: int, token_id: int) -> TokenView:
    get_operator(s, operator_id)
    token = s.get(RfidToken, token_id) if valid_id(token_id) else None
    if token is None or token.operator_id != operator_id:
        raise NotFound("No such RFID card.")
    return _view(s, token)


def set_blocked(
    s: Session, operator_id: int, token_id: int, blocked: bool, now: datetime
) -> TokenView:
    """Block or unblock a card; doing it twice changes nothing (the first time is kept)."""
    view = get_token(s, operator_id, token_id)
    token = view.token
    if blocked and token.blocked_at is None:
        token.blocked_at = now
    elif not blocked:
        token.blocked_at = None
    s.commit()
    return view


# --- Authorization for the OCPP bridge -------------------------------------------------


class IdTagStatus(StrEnum):
    ACCEPTED = "accepted"
    BLOCKED = "blocked"
    UNKNOWN = "unknown"
    NOT_VALID_HERE = "not_valid_here"


# What a charger is told (OCPP 1.6 AuthorizationStatus); our reasons stay in the logs.
OCPP_STATUS = {
    IdTagStatus.ACCEPTED: "Accepted",
    IdTagStatus.BLOCKED: "Blocked",
    IdTagStatus.UNKNOWN: "Invalid",
    IdTagStatus.NOT_VALID_HERE: "Invalid",
}


@dataclass(frozen=True)
class TokenFacts:
    token_id: int
    operator_id: int
    price_group_id: int
    driver_id: int | None
    blocked_at: datetime | None


@dataclass(frozen=True)
class SiteFacts:
    site_id: int
    operator_id: int
    visibility: str
    default_price_group_id: int | None


@dataclass(frozen=True)
class IdTagAuthorization:
    status: IdTagStatus
    token_id: int | None = None
    driver_id: int | None = None
    # The group whose price applies to this session; None where the platform prices it.
    price_group_id: int | None = None

    @property
    def ocpp_status(self) -> str:
        return OCPP_STATUS[self.status]


def decide(token: TokenFacts | None, site: SiteFacts | None, now: datetime) -> IdTagAuthorization:
    """Pure rule: may this card start a session at this site now?

    - an unknown card is refused;
    - a blocked card is refused everywhere, and told so (the driver should call the
      operator, not try another charger);
    - at its own operator's sites a card charges in the card's price group;
    - at another operator's public or semi-public site (open to everyone, domain.md §2)
      it charges like any public driver, in that site's default group;
    - another operator's private site is closed to it.
    """
    if token is None:
        return IdTagAuthorization(IdTagStatus.UNKNOWN)
    ids = {"token_id": token.token_id, "driver_id": token.driver_id}
    if token.blocked_at is not None and token.blocked_at <= now:
        return IdTagAuthorization(IdTagStatus.BLOCKED, **ids)
    if site is None:
        return IdTagAuthorization(IdTagStatus.NOT_VALID_HERE, **ids)
    if site.operator_id == token.operator_id:
        return IdTagAuthorization(IdTagStatus.ACCEPTED, price_group_id=token.price_group_id, **ids)
    if site.visibility in OPEN_TO_EVERYONE:
        return IdTagAuthorization(
            IdTagStatus.ACCEPTED, price_group_id=site.default_price_group_id, **ids
        )
    return IdTagAuthorization(IdTagStatus.NOT_VALID_HERE, **ids)


def authorize_id_tag(s: Session, id_tag: str, site_id: int, now: datetime) -> IdTagAuthorization:
    """The bridge's question about a card presented at a charger of ``site_id``."""
    try:
        tag = normalise_id_tag(id_tag)
    except InvalidInput:
        return IdTagAuthorization(IdTagStatus.UNKNOWN)
    token = s.scalar(select(RfidToken).where(RfidToken.id_tag == tag))
    site = s.get(Site, site_id) if valid_id(site_id) else None
    return decide(
        TokenFacts(
            token.id, token.operator_id, token.price_group_id, token.driver_id, token.blocked_at
        )
        if token
        else None,
        SiteFacts(site.id, site.operator_id, site.visibility, site.default_price_group_id)
        if site
        else None,
        now,
    )
