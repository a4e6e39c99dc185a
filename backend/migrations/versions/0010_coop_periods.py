"""co-op periods: a variable-cost site's closed billing period and the drivers' shares

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23 12:35:00
"""

from alembic import op
import sqlalchemy as sa
import backend.db.base


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('coop_periods',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('operator_id', sa.Integer(), nullable=True),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('tariff_id', sa.String(length=40), nullable=False),
    sa.Column('tariff_group', sa.String(length=10), nullable=False),
    sa.Column('invoice_form', sa.String(length=10), nullable=False),
    sa.Column('start_reading_id', sa.Integer(), nullable=True),
    sa.Column('end_reading_id', sa.Integer(), nullable=True),
    sa.Column('start_read_on', sa.Date(), nullable=False),
    sa.Column('start_register_kwh', backend.db.base.ExactDecimal(length=40), nullable=False),
    sa.Column('end_read_on', sa.Date(), nullable=False),
    sa.Column('end_register_kwh', backend.db.base.ExactDecimal(length=40), nullable=False),
    sa.Column('metered_kwh', backend.db.base.ExactDecimal(length=40), nullable=False),
    sa.Column('drivers_kwh', backend.db.base.ExactDecimal(length=40), nullable=False),
    sa.Column('owner_kwh', backend.db.base.ExactDecimal(length=40), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('vat_rate', backend.db.base.ExactDecimal(length=40), nullable=False),
    sa.Column('cost_net_minor', sa.BigInteger(), nullable=False),
    sa.Column('cost_vat_minor', sa.BigInteger(), nullable=False),
    sa.Column('cost_gross_minor', sa.BigInteger(), nullable=False),
    sa.Column('cost_per_kwh_net', backend.db.base.ExactDecimal(length=40), nullable=True),
    sa.Column('cost_per_kwh_gross', backend.db.base.ExactDecimal(length=40), nullable=True),
    sa.Column('owner_net_minor', sa.BigInteger(), nullable=False),
    sa.Column('owner_vat_minor', sa.BigInteger(), nullable=False),
    sa.Column('owner_gross_minor', sa.BigInteger(), nullable=False),
    sa.Column('invoice_lines', sa.Text(), nullable=False),
    sa.Column('explanation', sa.Text(), nullable=False),
    sa.Column('closed_by', sa.Integer(), nullable=True),
    sa.Column('closed_at', backend.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', backend.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['closed_by'], ['users.id'], name=op.f('fk_coop_periods_closed_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['end_reading_id'], ['site_meter_readings.id'], name=op.f('fk_coop_periods_end_reading_id_site_meter_readings'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['operator_id'], ['operators.id'], name=op.f('fk_coop_periods_operator_id_operators'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_coop_periods_site_id_sites'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['start_reading_id'], ['site_meter_readings.id'], name=op.f('fk_coop_periods_start_reading_id_site_meter_readings'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_coop_periods')),
    sa.UniqueConstraint('site_id', 'period', name=op.f('uq_coop_periods_site_id'))
    )
    op.create_index('ix_coop_periods_operator', 'coop_periods', ['operator_id', 'period'], unique=False)
    op.create_table('coop_shares',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('period_id', sa.Integer(), nullable=False),
    sa.Column('driver_id', sa.Integer(), nullable=True),
    sa.Column('energy_wh', sa.BigInteger(), nullable=False),
    sa.Column('kwh', backend.db.base.ExactDecimal(length=40), nullable=False),
    sa.Column('net_minor', sa.BigInteger(), nullable=False),
    sa.Column('vat_minor', sa.BigInteger(), nullable=False),
    sa.Column('gross_minor', sa.BigInteger(), nullable=False),
    sa.Column('session_ids', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['driver_id'], ['users.id'], name=op.f('fk_coop_shares_driver_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['period_id'], ['coop_periods.id'], name=op.f('fk_coop_shares_period_id_coop_periods'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_coop_shares')),
    sa.UniqueConstraint('period_id', 'driver_id', name=op.f('uq_coop_shares_period_id'))
    )
    op.create_index(op.f('ix_coop_shares_period_id'), 'coop_shares', ['period_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_coop_shares_period_id'), table_name='coop_shares')
    op.drop_table('coop_shares')
    op.drop_index('ix_coop_periods_operator', table_name='coop_periods')
    op.drop_table('coop_periods')
