"""Users: how English dates are written for them (en_GB, en_AU, en_CA, en_US).

Revision ID: 5c1f0e2a9b7d
Revises: b48df0307d37
Create Date: 2026-11-30 11:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5c1f0e2a9b7d'
down_revision = 'b48df0307d37'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('date_format', sa.String(length=8), server_default='',
                                      nullable=False))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('date_format')
