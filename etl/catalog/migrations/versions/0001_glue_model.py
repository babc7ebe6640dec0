"""Glue's model: databases, tables, table versions, partitions.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "glue_databases",
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("description", sa.Text()),
        sa.Column("location_uri", sa.Text()),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "glue_tables",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("database_name", sa.String(255),
                  sa.ForeignKey("glue_databases.name", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("database_name", "name", name="uq_table_name"),
    )
    op.create_table(
        "glue_table_versions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("table_id", sa.Integer(), sa.ForeignKey("glue_tables.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("archived_time", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("table_id", "version_id", name="uq_table_version"),
    )
    op.create_table(
        "glue_partitions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("table_id", sa.Integer(), sa.ForeignKey("glue_tables.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("values_key", sa.Text(), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("table_id", "values_key", name="uq_partition_values"),
    )


def downgrade() -> None:
    op.drop_table("glue_partitions")
    op.drop_table("glue_table_versions")
    op.drop_table("glue_tables")
    op.drop_table("glue_databases")
