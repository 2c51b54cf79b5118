"""Listing indexes (issue 14): each public listing's filter and order in one index,
and indexes on updated_at for the stamp that cached public pages are keyed on.
Published events get a published_at where they had none (the Atom feeds order by it).

Revision ID: c7d14e0a5b21
Revises: 6989a1890738
Create Date: 2026-11-30 11:30:00
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'c7d14e0a5b21'
down_revision = '6989a1890738'
branch_labels = None
depends_on = None


def upgrade():
    op.execute("UPDATE events SET published_at = created_at"
               " WHERE status = 'published' AND published_at IS NULL")
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_listing')
        batch_op.create_index('ix_events_listing',
                              ['status', 'audience', 'starts_at', 'id', 'ends_at', 'hub_id',
                               'mode', 'languages'],
                              unique=False)
        batch_op.create_index('ix_events_hub_calendar',
                              ['hub_id', 'audience', 'starts_at', 'id', 'status'], unique=False)
        batch_op.create_index('ix_events_announced', ['status', 'audience', 'published_at', 'id'],
                              unique=False)
        batch_op.create_index('ix_events_updated_at', ['updated_at'], unique=False)
    with op.batch_alter_table('updates', schema=None) as batch_op:
        batch_op.create_index('ix_updates_updated_at', ['updated_at'], unique=False)


def downgrade():
    with op.batch_alter_table('updates', schema=None) as batch_op:
        batch_op.drop_index('ix_updates_updated_at')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_updated_at')
        batch_op.drop_index('ix_events_announced')
        batch_op.drop_index('ix_events_hub_calendar')
        batch_op.drop_index('ix_events_listing')
        batch_op.create_index('ix_events_listing', ['status', 'audience', 'starts_at'],
                              unique=False)
