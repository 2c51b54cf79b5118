"""Users: reset_requested_at, so a newer reset link voids older ones (R16).

Revision ID: fb69615f9d68
Revises: 4885f7718d32
Create Date: 2026-11-25 11:08:38.239376

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'fb69615f9d68'
down_revision = '4885f7718d32'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reset_requested_at', sa.DateTime(timezone=True), nullable=True))



def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('reset_requested_at')

