"""Why a parcel left its project: project_parcel.unlink_reason.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27

unlinkParcel (issue #5) takes a reason; ending a link changes the county's land demand
(migration 0003), so the reason belongs on the link itself — the audit row of the UPDATE
then carries it too. A reason only on ended links, never blank.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("""
ALTER TABLE project_parcel ADD COLUMN unlink_reason text;
ALTER TABLE project_parcel ADD CONSTRAINT project_parcel_unlink_reason
    CHECK (unlink_reason IS NULL OR (unlinked_on IS NOT NULL AND btrim(unlink_reason) <> ''));
COMMENT ON COLUMN project_parcel.unlink_reason IS '解除原因: why the link ended (unlinkParcel)';
""")


def downgrade() -> None:
    op.execute("ALTER TABLE project_parcel DROP COLUMN IF EXISTS unlink_reason")
