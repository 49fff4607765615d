"""partials: the partials a prompt version includes, as written ({{> slug@ref }}), or NULL

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 16:15:00

No version stored before this revision includes anything: the file checker refused
"{{> slug }}" as a malformed placeholder until partials existed, so every old row is NULL and
nothing is backfilled.
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('prompt_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('partials', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('prompt_versions', schema=None) as batch_op:
        batch_op.drop_column('partials')
