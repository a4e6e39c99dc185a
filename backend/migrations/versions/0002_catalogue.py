"""catalogue: a summary of each site's connectors; covering indexes for the search

The catalogue search walks sites(latitude, longitude), then charge_points by site and,
with connector filters, connectors by charge point (see bench/catalogue_search.py and
docs/benchmarks.md).

- sites.connector_bits (both databases) sums up the plug types and power tiers of a
  site's connectors (backend.services.catalogue_summary), so a plug or power filter
  skips most sites before probing their connectors. NULL until computed, which lets
  every site through: nothing to backfill.
- On PostgreSQL the same three indexes carry the few columns the search reads, so it
  never visits the tables (index-only scans). Names and key columns stay as the models
  declare them, so autogenerate sees no difference; SQLite has no INCLUDE and keeps
  the plain indexes.
- On PostgreSQL, no parallel scans of these tables: a search is a few milliseconds of
  index walking, and starting a parallel worker costs more than that (the planner
  chose one for wide circles, which made them slower and their times erratic).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa
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
        ["id", "visibility", "operator_id", "default_price_group_id", "connector_bits"],
    ),
    ("ix_charge_points_site_id", "charge_points", ["site_id"], ["id", "commissioned", "status"]),
    (
        "ix_connectors_charge_point_id",
        "connectors",
        ["charge_point_id"],
        ["plug_type", "max_power_w", "status"],
    ),
]
SERIAL_ONLY = ["sites", "charge_points", "connectors"]


def upgrade() -> None:
    op.add_column("sites", sa.Column("connector_bits", sa.BigInteger(), nullable=True))
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, table, columns, include in COVERING:
        op.drop_index(name, table_name=table)
        op.create_index(name, table, columns, postgresql_include=include)
    for table in SERIAL_ONLY:
        op.execute(f"ALTER TABLE {table} SET (parallel_workers = 0)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in SERIAL_ONLY:
            op.execute(f"ALTER TABLE {table} RESET (parallel_workers)")
        for name, table, columns, _ in COVERING:
            op.drop_index(name, table_name=table)
            op.create_index(name, table, columns)
    op.drop_column("sites", "connector_bits")
