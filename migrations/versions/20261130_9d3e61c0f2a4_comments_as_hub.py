"""Comments: as_hub, so a comment an organiser or lead writes speaks as the hub
unless the hub names its authors (issue 16, post as the hub).

Comments already written by someone who is now an organiser or lead of the
update's hub are marked too, so their names stop showing.

Revision ID: 9d3e61c0f2a4
Revises: c7d14e0a5b21
Create Date: 2026-11-30 15:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '9d3e61c0f2a4'
down_revision = 'c7d14e0a5b21'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('as_hub', sa.Boolean(), server_default=sa.false(),
                                      nullable=False))
    op.execute(sa.text(
        "UPDATE comments SET as_hub = :yes WHERE EXISTS ("
        " SELECT 1 FROM updates JOIN memberships ON memberships.hub_id = updates.hub_id"
        " WHERE updates.id = comments.update_id AND memberships.user_id = comments.author_id"
        " AND memberships.status = 'active' AND memberships.role IN ('organiser', 'lead'))"
    ).bindparams(yes=True))


def downgrade():
    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.drop_column('as_hub')
