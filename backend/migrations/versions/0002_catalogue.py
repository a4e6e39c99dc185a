"""catalogue: covering indexes for the search (PostgreSQL only)

The catalogue search walks sites(latitude, longitude), then charge_points by site and,
with connector filters, connectors by charge point. On PostgreSQL the same three
indexes carry the few columns the search reads, so it never visits the tables
(index-only scans): see bench/catalogue_search.py and docs/benchmarks.md. Names and key
columns stay as the models declare them, so autogenerate sees no difference; SQLite has
no INCLUDE and keeps the plain indexes.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# (index, table, key columns, columns carried along)
COVERING = [
    (
        "ix_sites_lat_lon",
        "sites",
        ["latitude", "longitude"],
        ["id", "visibility", "operator_id", "default_price_group_id"],
    ),
    ("ix_charge_points_site_id", "charge_points", ["site_id"], ["id", "commissioned", "status"]),
    (
        "ix_connectors_charge_point_id",
        "connectors",
        ["charge_point_id"],
        ["plug_type", "max_power_w", "status"],
    ),
]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, table, columns, include in COVERING:
        op.drop_index(name, table_name=table)
        op.create_index(name, table, columns, postgresql_include=include)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, table, columns, _ in COVERING:
        op.drop_index(name, table_name=table)
        op.create_index(name, table, columns)
