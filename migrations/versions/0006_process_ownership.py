"""process ownership of work in flight, usage reservations, shared image queue, job runs;
conversation titles that carry nobody's words

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04

"""
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _title(created: datetime | str | None) -> str:
    # The same wording as bot.store.conversations.title_for, frozen here as of this revision.
    if isinstance(created, str):
        created = datetime.fromisoformat(created)
    if created is None:
        return "Conversation"
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    created = created.astimezone(UTC)
    return f"Conversation of {created.day} {created:%b %Y, %H:%M} UTC"


def upgrade() -> None:
    op.create_table('image_slots',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('owner_id', sa.BigInteger(), nullable=True),
    sa.Column('user_id', sa.BigInteger(), nullable=False),
    sa.Column('guild_id', sa.BigInteger(), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_image_slots'))
    )
    with op.batch_alter_table('image_slots', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_image_slots_owner_id'), ['owner_id'], unique=False)

    op.create_table('job_runs',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('last_run_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('owner_id', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_job_runs'))
    )
    op.create_table('processes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('shard_ids', sa.JSON(none_as_null=True), nullable=True),
    sa.Column('shard_count', sa.Integer(), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_processes'))
    )
    with op.batch_alter_table('processes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_processes_expires_at'), ['expires_at'], unique=False)

    # Concurrency is now held by usage reservations (`usage.state`); leases were only ever
    # in-flight markers, so nothing of value is dropped with them.
    with op.batch_alter_table('leases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_leases_guild_id'))
        batch_op.drop_index('ix_leases_user_kind')

    op.drop_table('leases')
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('owner_id', sa.BigInteger(), nullable=True))
        batch_op.create_index('ix_messages_status', ['status'], unique=False)

    with op.batch_alter_table('usage', schema=None) as batch_op:
        batch_op.add_column(sa.Column('state', sa.String(length=16), server_default='done', nullable=False))
        batch_op.add_column(sa.Column('owner_id', sa.BigInteger(), nullable=True))

    # Titles used to be the first words of whoever spoke first: someone else's words in a user's
    # export, surviving that person's deletion. Every title becomes the conversation's date.
    conn = op.get_bind()
    conversations = sa.table('conversations', sa.column('id', sa.BigInteger()),
                             sa.column('created_at', sa.DateTime(timezone=True)), sa.column('title', sa.String()))
    rows = conn.execute(sa.select(conversations.c.id, conversations.c.created_at)).all()
    if rows:
        conn.execute(
            conversations.update().where(conversations.c.id == sa.bindparam('cid'))
            .values(title=sa.bindparam('new_title')),
            [{'cid': cid, 'new_title': _title(created)} for cid, created in rows],
        )


def downgrade() -> None:
    with op.batch_alter_table('usage', schema=None) as batch_op:
        batch_op.drop_column('owner_id')
        batch_op.drop_column('state')

    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index('ix_messages_status')
        batch_op.drop_column('owner_id')

    op.create_table('leases',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('user_id', sa.BigInteger(), nullable=False),
    sa.Column('guild_id', sa.BigInteger(), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_leases'))
    )
    with op.batch_alter_table('leases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_leases_guild_id'), ['guild_id'], unique=False)
        batch_op.create_index('ix_leases_user_kind', ['user_id', 'kind'], unique=False)

    with op.batch_alter_table('processes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_processes_expires_at'))

    op.drop_table('processes')
    op.drop_table('job_runs')
    with op.batch_alter_table('image_slots', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_image_slots_owner_id'))

    op.drop_table('image_slots')
