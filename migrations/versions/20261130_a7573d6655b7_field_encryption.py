"""Field-level encryption (R40), the email blind index, burn-after-the-event.

Encrypts what is already stored with the current key (the keys come from the
configuration or instance/keys.json, as the app loads them), fills
users.email_index and outbox_emails.to_index, and adds the burn-after columns.
The downgrade decrypts everything back into plain columns.

Revision ID: a7573d6655b7
Revises: 5c1f0e2a9b7d
Create Date: 2026-11-30 11:26:13.071859

"""
from email.utils import parseaddr

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a7573d6655b7'
down_revision = '5c1f0e2a9b7d'
branch_labels = None
depends_on = None

# Every column this revision encrypts, as "table.column" (the associated data).
ENCRYPTED = {
    'users': ['email', 'totp_secret'],
    'events': ['venue', 'address', 'online_url'],
    'rsvps': ['note'],
    'memberships': ['organiser_notes'],
    'outbox_emails': ['to_address', 'subject', 'body_text', 'body_html', 'extra_headers'],
}
BATCH = 500


def _keyring():
    from community.encryption import keyring

    return keyring()


def _rewrite(table_name, transform, extra=None):
    """Apply ``transform(value, context)`` to each encrypted column of each row;
    ``extra(row)`` returns more columns to set (the blind indexes)."""
    bind = op.get_bind()
    names = ENCRYPTED[table_name]
    table = sa.table(table_name, sa.column('id', sa.Integer),
                     *[sa.column(name, sa.Text) for name in names],
                     *[sa.column(name, sa.String) for name in (extra or {}).get('columns', [])])
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
            if extra:
                values.update(extra['values'](row))
            if values:
                bind.execute(table.update().where(table.c.id == row.id).values(**values))
        last = rows[-1].id


def upgrade():
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('burn_after', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('burned_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('final_going_count', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('final_checked_in_count', sa.Integer(), nullable=True))
        batch_op.alter_column('venue',
               existing_type=sa.VARCHAR(length=200),
               type_=sa.Text(),
               existing_nullable=False,
               existing_server_default='')
        batch_op.alter_column('address',
               existing_type=sa.VARCHAR(length=500),
               type_=sa.Text(),
               existing_nullable=False,
               existing_server_default='')
        batch_op.alter_column('online_url',
               existing_type=sa.VARCHAR(length=500),
               type_=sa.Text(),
               existing_nullable=False,
               existing_server_default='')

    with op.batch_alter_table('outbox_emails', schema=None) as batch_op:
        batch_op.add_column(sa.Column('to_index', sa.String(length=64), nullable=True))
        batch_op.alter_column('to_address',
               existing_type=sa.VARCHAR(length=254),
               type_=sa.Text(),
               existing_nullable=False)
        batch_op.alter_column('subject',
               existing_type=sa.VARCHAR(length=300),
               type_=sa.Text(),
               existing_nullable=False)
        batch_op.create_index(batch_op.f('ix_outbox_emails_to_index'), ['to_index'], unique=False)

    with op.batch_alter_table('rsvps', schema=None) as batch_op:
        batch_op.alter_column('note',
               existing_type=sa.VARCHAR(length=500),
               type_=sa.Text(),
               existing_nullable=False,
               existing_server_default='')

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email_index', sa.String(length=64), nullable=True))
        batch_op.drop_constraint(batch_op.f('uq_users_email'), type_='unique')
        batch_op.alter_column('email',
               existing_type=sa.VARCHAR(length=254),
               type_=sa.Text(),
               existing_nullable=False)
        batch_op.alter_column('totp_secret',
               existing_type=sa.VARCHAR(length=255),
               type_=sa.Text(),
               existing_nullable=True)

    # The data: blind indexes from the plain values, then encrypt every value.
    keys = _keyring()
    _rewrite('users', keys.encrypt, {
        'columns': ['email_index'],
        'values': lambda row: {'email_index': keys.blind_index(row.email)}})
    _rewrite('outbox_emails', keys.encrypt, {
        'columns': ['to_index'],
        'values': lambda row: {'to_index': keys.blind_index(parseaddr(row.to_address)[1])
                               if row.to_address else None}})
    for table_name in ('events', 'rsvps', 'memberships'):
        _rewrite(table_name, keys.encrypt)

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.alter_column('email_index', existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_users_email_index'), ['email_index'])


def downgrade():
    keys = _keyring()
    for table_name in ENCRYPTED:
        _rewrite(table_name, keys.decrypt)

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_users_email_index'), type_='unique')
        batch_op.alter_column('totp_secret',
               existing_type=sa.Text(),
               type_=sa.VARCHAR(length=255),
               existing_nullable=True)
        batch_op.alter_column('email',
               existing_type=sa.Text(),
               type_=sa.VARCHAR(length=254),
               existing_nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_users_email'), ['email'])
        batch_op.drop_column('email_index')

    with op.batch_alter_table('rsvps', schema=None) as batch_op:
        batch_op.alter_column('note',
               existing_type=sa.Text(),
               type_=sa.VARCHAR(length=500),
               existing_nullable=False,
               existing_server_default='')

    with op.batch_alter_table('outbox_emails', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_emails_to_index'))
        batch_op.alter_column('subject',
               existing_type=sa.Text(),
               type_=sa.VARCHAR(length=300),
               existing_nullable=False)
        batch_op.alter_column('to_address',
               existing_type=sa.Text(),
               type_=sa.VARCHAR(length=254),
               existing_nullable=False)
        batch_op.drop_column('to_index')

    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.alter_column('online_url',
               existing_type=sa.Text(),
               type_=sa.VARCHAR(length=500),
               existing_nullable=False,
               existing_server_default='')
        batch_op.alter_column('address',
               existing_type=sa.Text(),
               type_=sa.VARCHAR(length=500),
               existing_nullable=False,
               existing_server_default='')
        batch_op.alter_column('venue',
               existing_type=sa.Text(),
               type_=sa.VARCHAR(length=200),
               existing_nullable=False,
               existing_server_default='')
        batch_op.drop_column('final_checked_in_count')
        batch_op.drop_column('final_going_count')
        batch_op.drop_column('burned_at')
        batch_op.drop_column('burn_after')
