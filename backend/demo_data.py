"""What the demo contains: the four business cases of domain.md §2 in Poland and one
housing co-op in Norway. Plain data; `backend.demo` turns it into rows through the
services. Addresses and coordinates are real-ish; the operators are made up.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DOMAIN = "demo.wattpass.example"  # .example is reserved: no demo mail reaches anybody
ADMIN_EMAIL = f"admin@{DOMAIN}"
TYPE2_22 = ("type2", "22")


@dataclass(frozen=True)
class DemoChargePoint:
    identity: str
    vendor: str
    model: str
    connectors: tuple[tuple[str, str], ...]  # (plug type, max power kW)


@dataclass(frozen=True)
class DemoCode:
    label: str
    kind: str  # permanent | temporary
    group: str
    max_sessions: int | None = None
    guest_days: int = 0  # temporary codes: valid from now for this many days


@dataclass(frozen=True)
class DemoOperator:
    key: str
    name: str
    legal_name: str
    tax_id: str
    country: str
    contract: dict[str, object]  # fields of contracts.NewContract besides valid_from
    groups: tuple[tuple[str, str], ...]  # (name, kind)
    default_group: str | None
    site: dict[str, object]  # fields of sites.create_site
    charge_points: tuple[DemoChargePoint, ...]
    codes: tuple[DemoCode, ...] = ()
    rfid_cards: tuple[tuple[str, str | None], ...] = ()  # (label, driver key or None)

    @property
    def staff_email(self) -> str:
        return f"staff.{self.key}@{DOMAIN}"


@dataclass(frozen=True)
class DemoDriver:
    key: str
    full_name: str
    language: str
    who: str
    operator: str | None = None  # key of the operator the driver is a member of
    group: str | None = None
    code: str | None = None  # label of the code the membership came from
    billing_mode: str = "per_session"  # for memberships without a code
    profile: dict[str, str] = field(default_factory=dict)

    @property
    def email(self) -> str:
        return f"{self.key}@{DOMAIN}"


def _site(
    name: str,
    street: str,
    postal: str,
    city: str,
    country: str,
    lat: float,
    lon: float,
    visibility: str,
) -> dict[str, object]:
    return {
        "name": name,
        "street": street,
        "postal_code": postal,
        "city": city,
        "country": country,
        "latitude": lat,
        "longitude": lon,
        "visibility": visibility,
    }


OPERATORS: tuple[DemoOperator, ...] = (
    DemoOperator(
        key="block",
        name="Osiedle Zielone Tarasy",
        legal_name="Wspólnota Mieszkaniowa Zielone Tarasy",
        tax_id="5213456789",
        country="PL",
        contract={"business_case": "P1", "fee_percent": "5"},
        groups=(("Mieszkańcy", "company"),),
        default_group="Mieszkańcy",
        site=_site(
            "Zielone Tarasy – garaż",
            "ul. Puławska 145",
            "02-715",
            "Warszawa",
            "PL",
            52.1932,
            21.0217,
            "private",
        ),
        charge_points=(
            DemoChargePoint("WP-BLOCK-01", "Alfen", "Eve Double Pro", (TYPE2_22, TYPE2_22)),
            DemoChargePoint("WP-BLOCK-02", "Alfen", "Eve Double Pro", (TYPE2_22, TYPE2_22)),
        ),
        codes=(DemoCode("Mieszkańcy – kod stały", "permanent", "Mieszkańcy"),),
    ),
    DemoOperator(
        key="hotel",
        name="Hotel Pod Wawelem Garden",
        legal_name="Pod Wawelem Garden sp. z o.o.",
        tax_id="6762345678",
        country="PL",
        contract={"business_case": "P2", "fee_fixed_per_cp": "30.00", "fee_per_kwh_net": "0.10"},
        groups=(("Goście hotelowi", "company"),),
        default_group="Goście hotelowi",
        site=_site(
            "Hotel Pod Wawelem – parking",
            "ul. Zwierzyniecka 20",
            "31-105",
            "Kraków",
            "PL",
            50.0573,
            19.9312,
            "private",
        ),
        charge_points=(
            DemoChargePoint("WP-HOTEL-01", "Wallbox", "Commander 2", (TYPE2_22, TYPE2_22)),
        ),
        codes=(DemoCode("Gość – pokój 204", "temporary", "Goście hotelowi", 3, guest_days=2),),
    ),
    DemoOperator(
        key="mall",
        name="Galeria Warta",
        legal_name="Galeria Warta Poznań sp. z o.o.",
        tax_id="7792345678",
        country="PL",
        contract={"business_case": "PUB", "agreed_price_per_kwh_net": "0.90"},
        groups=(("Publiczna", "public"),),
        default_group="Publiczna",
        site=_site(
            "Galeria Warta – parking P1",
            "ul. Królowej Jadwigi 51",
            "61-872",
            "Poznań",
            "PL",
            52.4003,
            16.9262,
            "public",
        ),
        charge_points=(
            DemoChargePoint("WP-MALL-01", "Ekoenergetyka", "Axon Side 150", (("ccs2", "150"),)),
            DemoChargePoint(
                "WP-MALL-02", "Ekoenergetyka", "Axon Easy 50", (("ccs2", "50"), TYPE2_22)
            ),
            DemoChargePoint("WP-MALL-03", "ABB", "Terra AC", (TYPE2_22, TYPE2_22)),
        ),
    ),
    DemoOperator(
        key="uni",
        name="Politechnika Bałtycka",
        legal_name="Politechnika Bałtycka w Gdańsku",
        tax_id="5842345678",
        country="PL",
        contract={"business_case": "SEMI", "fee_percent": "10", "fee_fixed_per_cp": "20.00"},
        groups=(("Pracownicy", "company"), ("Publiczna", "public")),
        default_group="Publiczna",
        site=_site(
            "Kampus Oliwa – parking B",
            "ul. Grunwaldzka 238",
            "80-266",
            "Gdańsk",
            "PL",
            54.3851,
            18.5966,
            "semi_public",
        ),
        charge_points=(
            DemoChargePoint("WP-UNI-01", "Garo", "GLB+ Twin", (TYPE2_22, TYPE2_22)),
            DemoChargePoint("WP-UNI-02", "Kempower", "Satellite", (("ccs2", "50"), TYPE2_22)),
        ),
        codes=(DemoCode("Pracownicy – kod stały", "permanent", "Pracownicy"),),
        rfid_cards=(
            ("Karta pracownicza – P. Wiśniewski", "piotr.wisniewski"),
            ("Karta – samochód służbowy", None),
        ),
    ),
    DemoOperator(
        key="coop",
        name="Tøyen Park Borettslag",
        legal_name="Tøyen Park Borettslag",
        tax_id="987654321",
        country="NO",
        contract={"business_case": "P1", "fee_percent": "5"},
        groups=(("Andelseiere", "company"),),
        default_group="Andelseiere",
        site=_site(
            "Tøyen Park – garasjeanlegg",
            "Hagegata 20",
            "0653",
            "Oslo",
            "NO",
            59.9127,
            10.7707,
            "private",
        ),
        charge_points=(
            DemoChargePoint("WP-COOP-01", "Easee", "Charge", (TYPE2_22,)),
            DemoChargePoint("WP-COOP-02", "Easee", "Charge", (TYPE2_22,)),
        ),
    ),
)

DRIVERS: tuple[DemoDriver, ...] = (
    DemoDriver(
        "anna.nowak",
        "Anna Nowak",
        "pl",
        "resident of the block (P1)",
        "block",
        "Mieszkańcy",
        "Mieszkańcy – kod stały",
    ),
    DemoDriver(
        "john.smith",
        "John Smith",
        "en",
        "hotel guest (P2)",
        "hotel",
        "Goście hotelowi",
        "Gość – pokój 204",
    ),
    DemoDriver(
        "piotr.wisniewski",
        "Piotr Wiśniewski",
        "pl",
        "university employee (SEMI)",
        "uni",
        "Pracownicy",
        "Pracownicy – kod stały",
    ),
    DemoDriver("maria.kowalska", "Maria Kowalska", "pl", "public driver (PUB, SEMI public)"),
    DemoDriver(
        "ola.nordmann",
        "Ola Nordmann",
        "nb",
        "housing co-op member (Norway)",
        "coop",
        "Andelseiere",
        billing_mode="monthly",
        profile={"billing_city": "Oslo", "billing_country": "NO"},
    ),
)
