"""voice: a character's TTS model and voice; a person's "no spoken replies for me"

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('characters', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tts_model', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('tts_voice', sa.String(length=64), nullable=True))
    with op.batch_alter_table('user_flags', schema=None) as batch_op:
        batch_op.add_column(sa.Column('voice_off', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('user_flags', schema=None) as batch_op:
        batch_op.drop_column('voice_off')
    with op.batch_alter_table('characters', schema=None) as batch_op:
        batch_op.drop_column('tts_voice')
        batch_op.drop_column('tts_model')
