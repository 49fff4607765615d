"""releases: label history, per-project release settings, and promotion requests

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-10 12:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('label_moves',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('prompt_id', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=63), nullable=False),
    sa.Column('from_version', sa.Integer(), nullable=True),
    sa.Column('to_version', sa.Integer(), nullable=True),
    sa.Column('actor', sa.String(length=300), nullable=False),
    sa.Column('reason', sa.String(length=300), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['prompt_id'], ['prompts.id'], name=op.f('fk_label_moves_prompt_id_prompts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_label_moves'))
    )
    with op.batch_alter_table('label_moves', schema=None) as batch_op:
        batch_op.create_index('ix_label_moves_prompt_id_label_id', ['prompt_id', 'label', 'id'], unique=False)
    op.create_table('project_settings',
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('protected_labels', sa.JSON(), nullable=False),
    sa.Column('approvals_required', sa.Integer(), nullable=False),
    sa.Column('protected_requires_clean_commit', sa.Boolean(), nullable=False),
    sa.Column('protected_branches', sa.JSON(), nullable=False),
    sa.Column('updated_by', sa.String(length=300), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_project_settings_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('project_id', name=op.f('pk_project_settings'))
    )
    op.create_table('promotions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('prompt_id', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=63), nullable=False),
    sa.Column('version', sa.Integer(), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('from_version', sa.Integer(), nullable=True),
    sa.Column('requested_by', sa.String(length=300), nullable=False),
    sa.Column('requested_by_user_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('approvals_required', sa.Integer(), nullable=False),
    sa.Column('approvals', sa.JSON(), nullable=False),
    sa.Column('decided_by', sa.String(length=300), nullable=True),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_promotions_project_id_projects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['prompt_id'], ['prompts.id'], name=op.f('fk_promotions_prompt_id_prompts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_promotions'))
    )
    with op.batch_alter_table('promotions', schema=None) as batch_op:
        batch_op.create_index('ix_promotions_project_id_state_id', ['project_id', 'state', 'id'], unique=False)
    # The history starts where the labels are: each existing label as created at its last
    # move, so `promptsync labels` shows it and a rollback knows there is nothing before it.
    op.execute(
        "INSERT INTO label_moves (prompt_id, label, from_version, to_version, actor, reason, "
        "created_at) SELECT prompt_id, name, NULL, version, 'promptsync', "
        "'recorded when label history began', updated_at FROM labels ORDER BY id"
    )


def downgrade():
    with op.batch_alter_table('promotions', schema=None) as batch_op:
        batch_op.drop_index('ix_promotions_project_id_state_id')
    op.drop_table('promotions')
    op.drop_table('project_settings')
    with op.batch_alter_table('label_moves', schema=None) as batch_op:
        batch_op.drop_index('ix_label_moves_prompt_id_label_id')
    op.drop_table('label_moves')
