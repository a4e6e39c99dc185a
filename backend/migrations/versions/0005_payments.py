"""payments: Stripe customers, cards, payments, refunds, plan subscriptions, webhook events

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 11:32:51.938519

`payments.session_ref` is the charging session's id without a foreign key: the card hold
is placed before the remote start, before the charger reports the transaction that
creates the `charging_sessions` row.
"""

from alembic import op
import sqlalchemy as sa
import backend.db.base


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('stripe_events',
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('type', sa.String(length=64), nullable=False),
    sa.Column('object_id', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('received_at', backend.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('processed_at', backend.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stripe_events'))
    )
    op.create_table('plan_billing',
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('stripe_product_id', sa.String(length=64), nullable=False),
    sa.Column('stripe_plan_id', sa.String(length=64), nullable=False),
    sa.Column('amount_minor', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('created_at', backend.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['plan_id'], ['plans.id'], name=op.f('fk_plan_billing_plan_id_plans'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('plan_id', name=op.f('pk_plan_billing'))
    )
    op.create_table('card_setups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('driver_id', sa.Integer(), nullable=False),
    sa.Column('setup_intent_id', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('created_at', backend.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', backend.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['driver_id'], ['users.id'], name=op.f('fk_card_setups_driver_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_card_setups')),
    sa.UniqueConstraint('setup_intent_id', name=op.f('uq_card_setups_setup_intent_id'))
    )
    with op.batch_alter_table('card_setups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_card_setups_driver_id'), ['driver_id'], unique=False)

    op.create_table('payment_cards',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('driver_id', sa.Integer(), nullable=False),
    sa.Column('stripe_payment_method_id', sa.String(length=64), nullable=False),
    sa.Column('brand', sa.String(length=20), nullable=False),
    sa.Column('last4', sa.String(length=4), nullable=False),
    sa.Column('exp_month', sa.Integer(), nullable=False),
    sa.Column('exp_year', sa.Integer(), nullable=False),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.Column('created_at', backend.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('removed_at', backend.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['driver_id'], ['users.id'], name=op.f('fk_payment_cards_driver_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_cards')),
    sa.UniqueConstraint('stripe_payment_method_id', name=op.f('uq_payment_cards_stripe_payment_method_id'))
    )
    with op.batch_alter_table('payment_cards', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_cards_driver_id'), ['driver_id'], unique=False)

    op.create_table('payment_customers',
    sa.Column('driver_id', sa.Integer(), nullable=False),
    sa.Column('stripe_customer_id', sa.String(length=64), nullable=False),
    sa.Column('created_at', backend.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['driver_id'], ['users.id'], name=op.f('fk_payment_customers_driver_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('driver_id', name=op.f('pk_payment_customers')),
    sa.UniqueConstraint('stripe_customer_id', name=op.f('uq_payment_customers_stripe_customer_id'))
    )
    op.create_table('payments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('driver_id', sa.Integer(), nullable=False),
    sa.Column('session_ref', sa.Integer(), nullable=True),
    sa.Column('site_id', sa.Integer(), nullable=True),
    sa.Column('period', sa.String(length=7), nullable=True),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('amount_minor', sa.Integer(), nullable=False),
    sa.Column('final_amount_minor', sa.Integer(), nullable=True),
    sa.Column('captured_minor', sa.Integer(), nullable=False),
    sa.Column('refunded_minor', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=120), nullable=False),
    sa.Column('stripe_payment_intent_id', sa.String(length=64), nullable=True),
    sa.Column('stripe_invoice_id', sa.String(length=64), nullable=True),
    sa.Column('payment_method_id', sa.String(length=64), nullable=True),
    sa.Column('failure_code', sa.String(length=64), nullable=False),
    sa.Column('failure_message', sa.String(length=300), nullable=False),
    sa.Column('created_at', backend.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', backend.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['driver_id'], ['users.id'], name=op.f('fk_payments_driver_id_users')),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_payments_site_id_sites'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payments')),
    sa.UniqueConstraint('driver_id', 'site_id', 'period', 'kind', name='uq_payments_period'),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_payments_idempotency_key')),
    sa.UniqueConstraint('session_ref', 'kind', name='uq_payments_session_kind'),
    sa.UniqueConstraint('stripe_payment_intent_id', name=op.f('uq_payments_stripe_payment_intent_id'))
    )
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.create_index('ix_payments_driver', ['driver_id', 'created_at'], unique=False)

    op.create_table('plan_subscriptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('driver_plan_id', sa.Integer(), nullable=False),
    sa.Column('driver_id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=120), nullable=False),
    sa.Column('stripe_subscription_id', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('cancel_at_period_end', sa.Boolean(), nullable=False),
    sa.Column('current_period_end', backend.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('latest_invoice_id', sa.String(length=64), nullable=True),
    sa.Column('failure_message', sa.String(length=300), nullable=False),
    sa.Column('created_at', backend.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', backend.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['driver_id'], ['users.id'], name=op.f('fk_plan_subscriptions_driver_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['driver_plan_id'], ['driver_plans.id'], name=op.f('fk_plan_subscriptions_driver_plan_id_driver_plans'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['plan_id'], ['plans.id'], name=op.f('fk_plan_subscriptions_plan_id_plans')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plan_subscriptions')),
    sa.UniqueConstraint('driver_plan_id', name=op.f('uq_plan_subscriptions_driver_plan_id')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_plan_subscriptions_idempotency_key')),
    sa.UniqueConstraint('stripe_subscription_id', name=op.f('uq_plan_subscriptions_stripe_subscription_id'))
    )
    with op.batch_alter_table('plan_subscriptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_plan_subscriptions_driver_id'), ['driver_id'], unique=False)

    op.create_table('payment_refunds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('payment_id', sa.Integer(), nullable=False),
    sa.Column('session_ref', sa.Integer(), nullable=True),
    sa.Column('operator_id', sa.Integer(), nullable=True),
    sa.Column('site_id', sa.Integer(), nullable=True),
    sa.Column('amount_minor', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('reason', sa.String(length=300), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('idempotency_key', sa.String(length=120), nullable=False),
    sa.Column('stripe_refund_id', sa.String(length=64), nullable=True),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', backend.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', backend.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_payment_refunds_created_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['operator_id'], ['operators.id'], name=op.f('fk_payment_refunds_operator_id_operators'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['payment_id'], ['payments.id'], name=op.f('fk_payment_refunds_payment_id_payments')),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_payment_refunds_site_id_sites'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_refunds')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_payment_refunds_idempotency_key')),
    sa.UniqueConstraint('stripe_refund_id', name=op.f('uq_payment_refunds_stripe_refund_id'))
    )
    with op.batch_alter_table('payment_refunds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_refunds_payment_id'), ['payment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_payment_refunds_period'), ['period'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('payment_refunds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payment_refunds_period'))
        batch_op.drop_index(batch_op.f('ix_payment_refunds_payment_id'))

    op.drop_table('payment_refunds')
    with op.batch_alter_table('plan_subscriptions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_plan_subscriptions_driver_id'))

    op.drop_table('plan_subscriptions')
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_index('ix_payments_driver')

    op.drop_table('payments')
    op.drop_table('payment_customers')
    with op.batch_alter_table('payment_cards', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payment_cards_driver_id'))

    op.drop_table('payment_cards')
    with op.batch_alter_table('card_setups', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_card_setups_driver_id'))

    op.drop_table('card_setups')
    op.drop_table('plan_billing')
    op.drop_table('stripe_events')
