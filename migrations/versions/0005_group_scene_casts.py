"""group scene casts: the cast of a conversation, its speaking state, and who spoke each reply

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 17:22:27.069507

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    
    op.create_table('casts',
    sa.Column('conversation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('last_speaker', sa.String(length=120), nullable=True),
    sa.Column('last_position', sa.Integer(), nullable=True),
    sa.Column('replies', sa.Integer(), nullable=False),
    sa.Column('chained', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_casts_conversation_id_conversations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('conversation_id', name=op.f('pk_casts'))
    )
    op.create_table('cast_members',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('conversation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('character_ref', sa.String(length=120), nullable=False),
    sa.Column('character_name', sa.String(length=200), nullable=False),
    sa.Column('added_by', sa.BigInteger(), nullable=True),
    sa.Column('spoke_at', sa.Integer(), nullable=False),
    sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['casts.conversation_id'], name=op.f('fk_cast_members_conversation_id_casts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cast_members')),
    sa.UniqueConstraint('conversation_id', 'character_ref', name='uq_cast_members_conversation_ref'),
    sa.UniqueConstraint('conversation_id', 'position', name='uq_cast_members_conversation_position')
    )
    with op.batch_alter_table('cast_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cast_members_added_by'), ['added_by'], unique=False)

    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('speaker_ref', sa.String(length=120), nullable=True))




def downgrade() -> None:
    
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_column('speaker_ref')

    with op.batch_alter_table('cast_members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cast_members_added_by'))

    op.drop_table('cast_members')
    op.drop_table('casts')

