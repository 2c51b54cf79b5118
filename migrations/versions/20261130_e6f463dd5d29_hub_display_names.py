"""Memberships: hub_display_name, the name a member uses in one hub only (issue 16).

Revision ID: e6f463dd5d29
Revises: 3be7aeff07c2
Create Date: 2026-11-30 11:51:43.871039

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e6f463dd5d29'
down_revision = '3be7aeff07c2'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('memberships', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hub_display_name', sa.String(length=64), server_default='', nullable=False))



def downgrade():
    with op.batch_alter_table('memberships', schema=None) as batch_op:
        batch_op.drop_column('hub_display_name')

