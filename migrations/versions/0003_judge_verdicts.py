"""judge verdicts

Revision ID: 0003
Revises: 0001
Create Date: 2026-12-04

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0003'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The judge's cache: verdicts by content hash (never the content itself).
    op.create_table('judge_verdicts',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('minor_sexual', sa.Boolean(), nullable=False),
    sa.Column('real_person_sexual', sa.Boolean(), nullable=False),
    sa.Column('confidence', sa.String(length=8), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('model', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_judge_verdicts'))
    )


def downgrade() -> None:
    op.drop_table('judge_verdicts')
