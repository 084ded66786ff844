"""standalone lorebooks (world info) and where they are attached; the Author's Note per
conversation; renewable copies of avatar pictures

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('lorebooks',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('owner_id', sa.BigInteger(), nullable=False),
    sa.Column('guild_id', sa.BigInteger(), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('book', sa.JSON(), nullable=False),
    sa.Column('entries', sa.Integer(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lorebooks')),
    sa.UniqueConstraint('owner_id', 'name', name='uq_lorebooks_owner_name')
    )
    op.create_table('avatar_copies',
    sa.Column('character_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('channel_id', sa.BigInteger(), nullable=False),
    sa.Column('message_id', sa.BigInteger(), nullable=False),
    sa.Column('url', sa.String(length=2000), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['character_id'], ['characters.id'], name=op.f('fk_avatar_copies_character_id_characters'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('character_id', name=op.f('pk_avatar_copies'))
    )
    op.create_table('lorebook_links',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('lorebook_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('scope', sa.String(length=16), nullable=False),
    sa.Column('target', sa.String(length=120), nullable=False),
    sa.Column('guild_id', sa.BigInteger(), nullable=True),
    sa.Column('added_by', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['lorebook_id'], ['lorebooks.id'], name=op.f('fk_lorebook_links_lorebook_id_lorebooks'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lorebook_links')),
    sa.UniqueConstraint('lorebook_id', 'scope', 'target', name='uq_lorebook_links_book_scope_target')
    )
    with op.batch_alter_table('lorebook_links', schema=None) as batch_op:
        batch_op.create_index('ix_lorebook_links_scope_target', ['scope', 'target'], unique=False)

    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('author_note', sa.JSON(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_column('author_note')

    with op.batch_alter_table('lorebook_links', schema=None) as batch_op:
        batch_op.drop_index('ix_lorebook_links_scope_target')

    op.drop_table('lorebook_links')
    op.drop_table('avatar_copies')
    op.drop_table('lorebooks')
