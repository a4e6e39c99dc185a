"""settlements and payouts: operator period documents, what they counted, payouts

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-23 14:20:51.978198
"""

from alembic import op
import sqlalchemy as sa
import backend.db.base


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('settlements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.Column('operator_id', sa.Integer(), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('contract_id', sa.Integer(), nullable=True),
    sa.Column('business_case', sa.String(length=8), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('vat_rate', backend.db.base.ExactDecimal(length=40), nullable=False),
    sa.Column('terms', sa.Text(), nullable=False),
    sa.Column('charge_points', sa.Integer(), nullable=False),
    sa.Column('energy_kwh', backend.db.base.ExactDecimal(length=40), nullable=False),
    sa.Column('revenue_net_minor', sa.BigInteger(), nullable=False),
    sa.Column('fee_net_minor', sa.BigInteger(), nullable=False),
    sa.Column('direction', sa.String(length=10), nullable=False),
    sa.Column('net_minor', sa.BigInteger(), nullable=False),
    sa.Column('vat_minor', sa.BigInteger(), nullable=False),
    sa.Column('gross_minor', sa.BigInteger(), nullable=False),
    sa.Column('lines', sa.Text(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', backend.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('notified_at', backend.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['contract_id'], ['operator_contracts.id'], name=op.f('fk_settlements_contract_id_operator_contracts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_settlements_created_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['operator_id'], ['operators.id'], name=op.f('fk_settlements_operator_id_operators'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_settlements')),
    sa.UniqueConstraint('number', name=op.f('uq_settlements_number')),
    sa.UniqueConstraint('operator_id', 'period', 'currency', name=op.f('uq_settlements_operator_id'))
    )
    op.create_table('payouts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('settlement_id', sa.Integer(), nullable=False),
    sa.Column('operator_id', sa.Integer(), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('method', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('destination', sa.String(length=64), nullable=False),
    sa.Column('idempotency_key', sa.String(length=64), nullable=False),
    sa.Column('provider_id', sa.String(length=64), nullable=False),
    sa.Column('reference', sa.String(length=120), nullable=False),
    sa.Column('failure', sa.String(length=300), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('paid_at', backend.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', backend.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', backend.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['operator_id'], ['operators.id'], name=op.f('fk_payouts_operator_id_operators'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['settlement_id'], ['settlements.id'], name=op.f('fk_payouts_settlement_id_settlements'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payouts')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_payouts_idempotency_key')),
    sa.UniqueConstraint('settlement_id', name=op.f('uq_payouts_settlement_id'))
    )
    op.create_table('settlement_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('settlement_id', sa.Integer(), nullable=False),
    sa.Column('source_key', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('origin_period', sa.String(length=7), nullable=False),
    sa.Column('net_minor', sa.BigInteger(), nullable=False),
    sa.Column('energy_wh', sa.BigInteger(), nullable=False),
    sa.Column('receipt_id', sa.Integer(), nullable=True),
    sa.Column('refund_id', sa.Integer(), nullable=True),
    sa.Column('session_id', sa.Integer(), nullable=True),
    sa.Column('reference', sa.String(length=60), nullable=False),
    sa.ForeignKeyConstraint(['receipt_id'], ['receipts.id'], name=op.f('fk_settlement_items_receipt_id_receipts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['refund_id'], ['payment_refunds.id'], name=op.f('fk_settlement_items_refund_id_payment_refunds'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['session_id'], ['charging_sessions.id'], name=op.f('fk_settlement_items_session_id_charging_sessions'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['settlement_id'], ['settlements.id'], name=op.f('fk_settlement_items_settlement_id_settlements'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_settlement_items')),
    sa.UniqueConstraint('source_key', name=op.f('uq_settlement_items_source_key'))
    )
    op.create_index('ix_settlement_items_settlement', 'settlement_items', ['settlement_id', 'kind'], unique=False)
    op.add_column('operators', sa.Column('stripe_account_id', sa.String(length=64), server_default='', nullable=False))
    # The default only fills the rows that exist; new rows get theirs from the model.
    with op.batch_alter_table('operators') as batch:
        batch.alter_column('stripe_account_id', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('operators') as batch:  # SQLite cannot drop in place
        batch.drop_column('stripe_account_id')
    op.drop_index('ix_settlement_items_settlement', table_name='settlement_items')
    op.drop_table('settlement_items')
    op.drop_table('payouts')
    op.drop_table('settlements')
