"""Encrypt join answers and report reasons (R40), as a7573d6655b7 did for the
other sensitive columns.

memberships.join_answer becomes text (the 1000-character limit stays in the
join form and service); reports.reason already is. Existing values are
encrypted with the current key (from the configuration or instance/keys.json,
as the app loads them). The downgrade decrypts them back into plain columns.

Revision ID: db8bf23b52e1
Revises: 9d3e61c0f2a4
Create Date: 2026-11-30 15:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'db8bf23b52e1'
down_revision = '9d3e61c0f2a4'
branch_labels = None
depends_on = None

# Every column this revision encrypts, as "table.column" (the associated data).
ENCRYPTED = {
    'memberships': ['join_answer'],
    'reports': ['reason'],
}
BATCH = 500


def _keyring():
    from community.encryption import keyring

    return keyring()


def _rewrite(table_name, transform):
    """Apply ``transform(value, context)`` to each encrypted column of each row
    (empty values stay empty), in batches by id."""
    bind = op.get_bind()
    names = ENCRYPTED[table_name]
    table = sa.table(table_name, sa.column('id', sa.Integer),
                     *[sa.column(name, sa.Text) for name in names])
    last = 0
    while True:
        rows = bind.execute(sa.select(table.c.id, *[table.c[name] for name in names])
                            .where(table.c.id > last).order_by(table.c.id).limit(BATCH)).all()
        if not rows:
            return
        for row in rows:
            values = {}
            for name in names:
                value = getattr(row, name)
                if value:
                    values[name] = transform(value, f'{table_name}.{name}')
            if values:
                bind.execute(table.update().where(table.c.id == row.id).values(**values))
        last = rows[-1].id


def upgrade():
    with op.batch_alter_table('memberships', schema=None) as batch_op:
        batch_op.alter_column('join_answer',
               existing_type=sa.VARCHAR(length=1000),
               type_=sa.Text(),
               existing_nullable=False,
               existing_server_default='')

    keys = _keyring()
    for table_name in ENCRYPTED:
        _rewrite(table_name, keys.encrypt)


def downgrade():
    keys = _keyring()
    for table_name in ENCRYPTED:
        _rewrite(table_name, keys.decrypt)

    with op.batch_alter_table('memberships', schema=None) as batch_op:
        batch_op.alter_column('join_answer',
               existing_type=sa.Text(),
               type_=sa.VARCHAR(length=1000),
               existing_nullable=False,
               existing_server_default='')
