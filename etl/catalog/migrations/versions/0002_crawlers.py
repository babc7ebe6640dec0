"""Crawlers, crawl runs and the files each crawler has read.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "etl_crawlers",
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "etl_crawl_runs",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("crawler_name", sa.String(255), nullable=False, index=True),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("start_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_time", sa.DateTime(timezone=True)),
        sa.Column("duration_seconds", sa.Float()),
        sa.Column("tables_created", sa.Integer(), nullable=False),
        sa.Column("tables_updated", sa.Integer(), nullable=False),
        sa.Column("tables_deleted", sa.Integer(), nullable=False),
        sa.Column("partitions_added", sa.Integer(), nullable=False),
        sa.Column("partitions_deleted", sa.Integer(), nullable=False),
        sa.Column("files_read", sa.Integer(), nullable=False),
        sa.Column("files_skipped", sa.Integer(), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("message", sa.Text()),
    )
    op.create_table(
        "etl_crawled_files",
        sa.Column("crawler_name", sa.String(255), primary_key=True),
        sa.Column("path", sa.String(2048), primary_key=True),
        sa.Column("folder", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("mtime", sa.Float(), nullable=False),
        sa.Column("table_name", sa.String(255)),
    )


def downgrade() -> None:
    op.drop_table("etl_crawled_files")
    op.drop_table("etl_crawl_runs")
    op.drop_table("etl_crawlers")
