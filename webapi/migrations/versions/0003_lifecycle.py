"""lifecycle: archived prompts, and the slug a renamed version came from

A prompt is archived (kept with its versions, gone from the manifest) while archived_at is set;
a version created by a rename records "<old slug>@v<N>" in renamed_from.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-10 10:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    # Both nullable, so existing rows need no value: every prompt stays live, no version renamed.
    with op.batch_alter_table('prompts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('archived_at', sa.DateTime(), nullable=True))
    with op.batch_alter_table('prompt_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('renamed_from', sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table('prompt_versions', schema=None) as batch_op:
        batch_op.drop_column('renamed_from')
    with op.batch_alter_table('prompts', schema=None) as batch_op:
        batch_op.drop_column('archived_at')
