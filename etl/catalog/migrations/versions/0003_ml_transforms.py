"""FindMatches: stored ML transforms and their labels.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "etl_ml_transforms",
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("description", sa.Text()),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("model", sa.JSON(), nullable=True),
        sa.Column("metrics", sa.JSON(), nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("input_database", sa.String(255)),
        sa.Column("input_table", sa.String(255)),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "etl_ml_labels",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "transform_name",
            sa.String(255),
            sa.ForeignKey("etl_ml_transforms.name", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("labeling_set_id", sa.String(255), nullable=False),
        sa.Column("label", sa.String(255), nullable=False),
        sa.Column("record_key", sa.Text(), nullable=False),
        sa.Column("record", sa.JSON(), nullable=False),
        sa.Column("import_time", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("transform_name", "labeling_set_id", "record_key", name="uq_ml_label"),
    )


def downgrade() -> None:
    op.drop_table("etl_ml_labels")
    op.drop_table("etl_ml_transforms")
