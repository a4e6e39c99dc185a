"""Load the demo data (backend.demo_data) through the services, idempotently.

Nothing secret is in git: passwords, OCPP passwords and company codes are drawn at load
time and returned once in the summary, which the run command prints and keeps in
var/demo-credentials.json. Only their hashes are stored, so a second load cannot show
the first load's secrets again; instead it finds every demo row it already made (by its
natural key: e-mail, OCPP identity, name or label), adds none, and issues fresh secrets
for them, so the summary it returns always works. The guest code's window restarts at
the load time, as a hotel would hand a new guest a new code.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from backend.db.models import (
    ChargePoint,
    CompanyCode,
    Membership,
    Operator,
    OperatorContract,
    PriceGroup,
    RefreshToken,
    RfidToken,
    Site,
    User,
)
from backend.db.models.enums import (
    BillingMode,
    BusinessCase,
    CodeKind,
    MembershipSource,
    PriceGroupKind,
    Role,
)
from backend.demo_data import (
    ADMIN_EMAIL,
    DRIVERS,
    OPERATORS,
    DemoChargePoint,
    DemoCode,
    DemoDriver,
    DemoOperator,
)
from backend.demo_prices import load_prices
from backend.security.passwords import hash_password
from backend.services import accounts, codes, contracts, operators, rfid, sites
from backend.services import charge_points as cps
from backend.services.memberships import code_hash
from shared import codes as code_rules

PASSWORD_BYTES = 12  # token_urlsafe: 16 characters, ~96 bits


def _password() -> str:
    return secrets.token_urlsafe(PASSWORD_BYTES)


class _Loader:
    def __init__(self, s: Session, now: datetime, secret: str) -> None:
        self.s, self.now, self.secret = s, now, secret
        # Per operator key: the operator, its price groups by name, and its site.
        self.loaded: dict[str, tuple[Operator, dict[str, PriceGroup], Site]] = {}

    # --- accounts --------------------------------------------------------------------

    def account(self, email: str, create: Callable[[str], User]) -> dict[str, str]:
        """The demo login ``email`` with a fresh password, created if missing."""
        password = _password()
        user = self.s.scalar(select(User).where(User.email == email))
        if user is None:
            create(password)
        else:
            user.password_hash = hash_password(password)
            # As after a password change: logins made with the old password end too.
            self.s.execute(
                update(RefreshToken)
                .where(RefreshToken.user_id == user.id, RefreshToken.revoked_at.is_(None))
                .values(revoked_at=self.now)
            )
            self.s.commit()
        return {"email": email, "password": password}

    def admin(self) -> dict[str, str]:
        def create(password: str) -> User:
            user = accounts.create_user(self.s, ADMIN_EMAIL, password, Role.PLATFORM_ADMIN)
            self.s.commit()
            return user

        return self.account(ADMIN_EMAIL, create)

    # --- operators -------------------------------------------------------------------

    def operator(self, spec: DemoOperator) -> dict[str, Any]:
        s = self.s
        op = s.scalar(select(Operator).where(Operator.name == spec.name))
        if op is None:
            op = operators.create_operator(
                s,
                {
                    "name": spec.name,
                    "legal_name": spec.legal_name,
                    "tax_id": spec.tax_id,
                    "country": spec.country,
                    "email": f"biuro.{spec.key}@example.com",
                },
                self.now,
            )
        self.contract(op, spec)
        groups = self.groups(op, spec)
        site = self.site(op, spec, groups)
        self.loaded[spec.key] = (op, groups, site)
        staff = self.account(
            spec.staff_email,
            lambda pw: operators.create_staff(s, op.id, spec.staff_email, pw, self.now).user,
        )
        return {
            "operator_id": op.id,
            "name": op.name,
            "business_case": spec.contract["business_case"],
            "staff_login": staff,
            "site": {
                "id": site.id,
                "name": site.name,
                "city": site.city,
                "country": site.country,
                "currency": site.currency,
                "vat_rate": str(site.vat_rate.normalize()),
                "timezone": site.timezone,
                "visibility": site.visibility,
            },
            "charge_points": [self.charge_point(op, site, cp) for cp in spec.charge_points],
            "codes": [self.code(op, site, groups, c) for c in spec.codes],
        }

    def contract(self, op: Operator, spec: DemoOperator) -> None:
        if self.s.scalar(select(OperatorContract.id).where(OperatorContract.operator_id == op.id)):
            return
        terms: dict[str, Any] = dict(spec.contract)
        terms["business_case"] = BusinessCase(terms["business_case"])
        for name in ("fee_percent", "fee_per_kwh_net", "agreed_price_per_kwh_net"):
            if name in terms:
                terms[name] = Decimal(str(terms[name]))
        new = contracts.NewContract(valid_from=date(self.now.year, 1, 1), **terms)
        contracts.create_contract(self.s, op.id, new, self.now)

    def groups(self, op: Operator, spec: DemoOperator) -> dict[str, PriceGroup]:
        found = {g.name: g for g in operators.list_price_groups(self.s, op.id)}
        for name, kind in spec.groups:
            if name not in found:
                found[name] = operators.create_price_group(
                    self.s, op.id, name, PriceGroupKind(kind), self.now
                )
        return found

    def site(self, op: Operator, spec: DemoOperator, groups: dict[str, PriceGroup]) -> Site:
        name = spec.site["name"]
        site = self.s.scalar(select(Site).where(Site.operator_id == op.id, Site.name == name))
        if site is None:
            data = dict(spec.site)
            if spec.default_group:
                data["default_price_group_id"] = groups[spec.default_group].id
            site = sites.create_site(self.s, op.id, data, self.now)
        return site

    def charge_point(self, op: Operator, site: Site, spec: DemoChargePoint) -> dict[str, str]:
        cp = self.s.scalar(select(ChargePoint).where(ChargePoint.ocpp_identity == spec.identity))
        if cp is None:
            specs = [
                cps.ConnectorSpec(n, plug, Decimal(kw))
                for n, (plug, kw) in enumerate(spec.connectors, start=1)
            ]
            data = {
                "ocpp_identity": spec.identity,
                "vendor": spec.vendor,
                "model": spec.model,
                "serial_number": f"DEMO-{spec.identity}",
                "commissioned": True,
            }
            made = cps.create_charge_point(self.s, site, data, specs, self.now)
        else:
            made = cps.rotate_password(self.s, op.id, cp.id)
        plugs = ", ".join(f"{plug} {kw} kW" for plug, kw in spec.connectors)
        return {"ocpp_identity": spec.identity, "ocpp_password": made.password, "connectors": plugs}

    # --- codes and cards -------------------------------------------------------------

    def _guest_window(self, site: Site, days: int) -> tuple[datetime, datetime]:
        """From now (to the minute) to the same local wall-clock time ``days`` later."""
        start = code_rules.utc_to_local(self.now, site.timezone).replace(second=0, microsecond=0)
        end = start + timedelta(days=days)
        try:
            code_rules.local_to_utc(end, site.timezone)
        except code_rules.LocalTimeError:  # skipped by a spring-forward change: an hour on
            end += timedelta(hours=1)
        return start, end

    def code(
        self, op: Operator, site: Site, groups: dict[str, PriceGroup], spec: DemoCode
    ) -> dict[str, Any]:
        kind = CodeKind(spec.kind)
        window = self._guest_window(site, spec.guest_days) if spec.guest_days else (None, None)
        row = self.s.scalar(
            select(CompanyCode).where(
                CompanyCode.operator_id == op.id, CompanyCode.label == spec.label
            )
        )
        if row is None:
            new = codes.NewCode(
                kind=kind,
                site_ids=[site.id],
                price_group_id=groups[spec.group].id,
                label=spec.label,
                valid_from_local=window[0],
                valid_to_local=window[1],
                max_sessions=spec.max_sessions,
            )
            created = codes.create_code(self.s, op.id, new, self.secret, self.now)
            row, plain = created.code, created.plain
        else:
            plain = self._rekey(row, site, window)
        return {
            "label": row.label,
            "kind": row.kind,
            "code": plain,
            "billing_mode": row.billing_mode,
            "valid_from_local": str(window[0]) if window[0] else None,
            "valid_to_local": str(window[1]) if window[1] else None,
            "max_sessions": row.max_sessions,
        }

    def _rekey(
        self, row: CompanyCode, site: Site, window: tuple[datetime | None, datetime | None]
    ) -> str:
        """A fresh code on the same row, so memberships made from it stay attached."""
        canonical = code_rules.generate()
        row.code_hash = code_hash(canonical, self.secret)
        row.hint = code_rules.hint(canonical)
        row.revoked_at = None
        if window[0] is not None and window[1] is not None:
            row.valid_from = code_rules.local_to_utc(window[0], site.timezone)
            row.valid_until = code_rules.local_to_utc(window[1], site.timezone)
        self.s.commit()
        return code_rules.format_code(canonical)

    def rfid_cards(self, spec: DemoOperator, drivers: dict[str, int]) -> list[dict[str, Any]]:
        op, groups, _site = self.loaded[spec.key]
        group = next(g for g in groups.values() if g.kind == PriceGroupKind.COMPANY.value)
        out = []
        for label, driver_key in spec.rfid_cards:
            token = self.s.scalar(
                select(RfidToken).where(RfidToken.operator_id == op.id, RfidToken.label == label)
            )
            if token is None:
                # A 7-byte UID like a MIFARE card's; not a secret in OCPP, stored as is.
                new = rfid.NewToken(
                    id_tag=secrets.token_hex(7).upper(),
                    price_group_id=group.id,
                    label=label,
                    driver_id=drivers.get(driver_key) if driver_key else None,
                )
                token = rfid.register_token(self.s, op.id, new, self.now).token
            out.append({"id_tag": token.id_tag, "label": label, "driver": driver_key})
        return out

    # --- drivers ---------------------------------------------------------------------

    def driver(self, spec: DemoDriver) -> tuple[int, dict[str, Any]]:
        profile = {"full_name": spec.full_name, "language": spec.language, **spec.profile}
        login = self.account(
            spec.email, lambda pw: accounts.register_driver(self.s, spec.email, pw, profile)
        )
        user = self.s.scalar(select(User).where(User.email == spec.email))
        assert user is not None
        if spec.operator:
            self.membership(user, spec)
        return user.id, {**login, "who": spec.who, "member_of": spec.operator}

    def membership(self, user: User, spec: DemoDriver) -> None:
        assert spec.operator is not None and spec.group is not None
        op, groups, site = self.loaded[spec.operator]
        code = self.s.scalar(
            select(CompanyCode).where(
                CompanyCode.operator_id == op.id, CompanyCode.label == spec.code
            )
        )
        m = self.s.scalar(
            select(Membership).where(
                Membership.driver_id == user.id,
                Membership.operator_id == op.id,
                Membership.revoked_at.is_(None),
            )
        )
        if m is None:
            m = Membership(
                driver_id=user.id,
                operator_id=op.id,
                price_group_id=groups[spec.group].id,
                company_code_id=code.id if code else None,
                source=(MembershipSource.CODE if code else MembershipSource.MANUAL).value,
                billing_mode=code.billing_mode if code else BillingMode(spec.billing_mode).value,
                starts_at=self.now,
                created_at=self.now,
                sites=[site],
            )
            self.s.add(m)
        # A guest's stay ends with the code's window, which each load restarts.
        m.ends_at = code.valid_until if code else None
        self.s.commit()


def load_demo(
    session_factory: Callable[[], Session], now: datetime, secret_key: str
) -> dict[str, Any]:
    """Create (or refresh) the demo and return its logins, OCPP passwords and codes.

    ``secret_key`` is the platform's: company codes are stored as its keyed hash, so the
    codes shown work with the API that uses the same key."""
    with session_factory() as s:
        loaded_before = s.scalar(select(Operator.id).where(Operator.name == OPERATORS[0].name))
        loader = _Loader(s, now, secret_key)
        summary: dict[str, Any] = {"already_loaded": loaded_before is not None}
        summary["platform_admin"] = loader.admin()
        summary["operators"] = [loader.operator(spec) for spec in OPERATORS]
        driver_ids: dict[str, int] = {}
        summary["drivers"] = []
        for spec in DRIVERS:
            driver_ids[spec.key], login = loader.driver(spec)
            summary["drivers"].append(login)
        for spec, entry in zip(OPERATORS, summary["operators"], strict=True):
            if spec.rfid_cards:
                entry["rfid_cards"] = loader.rfid_cards(spec, driver_ids)
        load_prices(s, now)
        return summary
