"""Jobs, job runs, bookmarked files and workflow runs.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _when(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "etl_jobs",
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("definition", sa.JSON(), nullable=False),
        _when("create_time", False),
        _when("update_time", False),
    )
    op.create_table(
        "etl_job_runs",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("job_name", sa.String(255), nullable=False, index=True),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("previous_run_id", sa.String(64)),
        sa.Column("state", sa.String(16), nullable=False, index=True),
        sa.Column("arguments", sa.JSON(), nullable=False),
        _when("start_time", False),
        _when("end_time"),
        sa.Column("duration_seconds", sa.Float()),
        sa.Column("timeout_minutes", sa.Float()),
        sa.Column("error_message", sa.Text()),
        sa.Column("predecessor_runs", sa.JSON(), nullable=False),
        sa.Column("workflow_run_id", sa.String(64), index=True),
        sa.Column("pid", sa.Integer()),
        sa.Column("host", sa.String(255)),
        _when("heartbeat_time"),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("data_quality", sa.JSON(), nullable=False),
        sa.Column("bookmark", sa.JSON(), nullable=False),
    )
    op.create_table(
        "etl_bookmark_files",
        sa.Column("job_name", sa.String(255), primary_key=True),
        sa.Column("transformation_ctx", sa.String(255), primary_key=True),
        sa.Column("path", sa.String(2048), primary_key=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("mtime", sa.Float(), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False, index=True),
        _when("commit_time", False),
    )
    op.create_table(
        "etl_workflow_runs",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("workflow_name", sa.String(255), nullable=False, index=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("run_properties", sa.JSON(), nullable=False),
        _when("start_time", False),
        _when("end_time"),
        sa.Column("statistics", sa.JSON(), nullable=False),
        sa.Column("error_message", sa.Text()),
    )
    op.create_table(
        "etl_workflow_node_runs",
        sa.Column("workflow_run_id", sa.String(64), primary_key=True),
        sa.Column("node_name", sa.String(255), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("run_id", sa.String(64)),
        _when("start_time"),
        _when("end_time"),
        sa.Column("error_message", sa.Text()),
    )


def downgrade() -> None:
    for table in ("etl_workflow_node_runs", "etl_workflow_runs", "etl_bookmark_files", "etl_job_runs", "etl_jobs"):
        op.drop_table(table)
