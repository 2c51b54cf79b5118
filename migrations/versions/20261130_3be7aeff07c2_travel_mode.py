"""Users: travel_mode_since, the switch of travel mode (issue 16).

Revision ID: 3be7aeff07c2
Revises: bb1af751c3a9
Create Date: 2026-11-30 11:42:58.327017

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '3be7aeff07c2'
down_revision = 'bb1af751c3a9'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('travel_mode_since', sa.DateTime(timezone=True), nullable=True))



def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('travel_mode_since')

