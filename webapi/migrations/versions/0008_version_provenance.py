"""version_provenance: git provenance reported for a version after it was pushed

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 18:45:00

A version pushed from a dirty tree (promptsync watch saves before the commit) may later be
vouched for by a clean checkout whose file holds its bytes; the version row stays as it was.
Nothing to backfill: no such report existed before.
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'version_provenance',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('prompt_id', sa.Integer(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('git', sa.JSON(), nullable=False),
        sa.Column('actor', sa.String(length=300), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['prompt_id'], ['prompts.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('version_provenance', schema=None) as batch_op:
        batch_op.create_index('ix_version_provenance_prompt_id_version',
                              ['prompt_id', 'version'], unique=False)


def downgrade():
    with op.batch_alter_table('version_provenance', schema=None) as batch_op:
        batch_op.drop_index('ix_version_provenance_prompt_id_version')
    op.drop_table('version_provenance')
