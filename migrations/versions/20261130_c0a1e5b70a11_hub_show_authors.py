"""Hubs: show_authors, so updates appear as from the hub unless it chooses to name
their authors (issue 16, post as the hub).

Revision ID: c0a1e5b70a11
Revises: a7573d6655b7
Create Date: 2026-11-30 11:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c0a1e5b70a11'
down_revision = 'a7573d6655b7'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('hubs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('show_authors', sa.Boolean(), server_default=sa.false(),
                                      nullable=False))


def downgrade():
    with op.batch_alter_table('hubs', schema=None) as batch_op:
        batch_op.drop_column('show_authors')
