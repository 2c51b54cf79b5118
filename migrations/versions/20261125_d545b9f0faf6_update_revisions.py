"""Update revisions: the edit history of updates (who edited, when, what it said).

Revision ID: d545b9f0faf6
Revises: fb69615f9d68
Create Date: 2026-11-25 12:03:38.916315

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd545b9f0faf6'
down_revision = 'fb69615f9d68'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('update_revisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('update_id', sa.Integer(), nullable=False),
    sa.Column('editor_id', sa.Integer(), nullable=True),
    sa.Column('edited_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('title_en', sa.String(length=200), server_default='', nullable=False),
    sa.Column('title_zh', sa.String(length=200), server_default='', nullable=False),
    sa.Column('body_en', sa.Text(), server_default='', nullable=False),
    sa.Column('body_zh', sa.Text(), server_default='', nullable=False),
    sa.ForeignKeyConstraint(['editor_id'], ['users.id'], name=op.f('fk_update_revisions_editor_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['update_id'], ['updates.id'], name=op.f('fk_update_revisions_update_id_updates'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_update_revisions'))
    )
    with op.batch_alter_table('update_revisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_update_revisions_editor_id'), ['editor_id'], unique=False)
        batch_op.create_index('ix_update_revisions_update_edited', ['update_id', 'edited_at'], unique=False)



def downgrade():
    with op.batch_alter_table('update_revisions', schema=None) as batch_op:
        batch_op.drop_index('ix_update_revisions_update_edited')
        batch_op.drop_index(batch_op.f('ix_update_revisions_editor_id'))

    op.drop_table('update_revisions')
