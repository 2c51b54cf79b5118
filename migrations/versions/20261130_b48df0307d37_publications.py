"""Publications: the outbox row a publication writes; the queue fans it out to emails.

Revision ID: b48df0307d37
Revises: d545b9f0faf6
Create Date: 2026-11-30 09:04:54.202805

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b48df0307d37'
down_revision = 'd545b9f0faf6'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('publications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('target_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_publications')),
    sa.UniqueConstraint('kind', 'target_id', name=op.f('uq_publications_kind_target_id'))
    )
    with op.batch_alter_table('publications', schema=None) as batch_op:
        batch_op.create_index('ix_publications_pending', ['done_at', 'id'], unique=False)



def downgrade():
    with op.batch_alter_table('publications', schema=None) as batch_op:
        batch_op.drop_index('ix_publications_pending')

    op.drop_table('publications')
