"""Tables of the platform database: exchange, catalog, identity, audit, sharing, messages."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

NODE_STATUSES = ("registered", "approved", "disabled")

exchange_node = sa.Table(
    "exchange_node",
    metadata,
    sa.Column("name", sa.String(63), primary_key=True),
    sa.Column("department", sa.String(63), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("changed_by", sa.String(128), nullable=False),
)

node_event = sa.Table(
    "exchange_node_event",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("node", sa.String(63), nullable=False, index=True),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)

# One row per delivery attempt. ``actor`` is the principal that delivered or resent; ``path``
# the delivered file's path on the target, recorded (status ``uploading``) before it is sent;
# ``grant_id`` the share grant the attempt delivered under (none: the owner's own data).
delivery = sa.Table(
    "exchange_delivery",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("subscription", sa.String(63), nullable=False, index=True),
    sa.Column("node", sa.String(63), nullable=False, index=True),
    sa.Column("endpoint", sa.String(63), nullable=False),
    sa.Column("dataset", sa.String(127), nullable=False),
    sa.Column("batch_id", sa.String(255), nullable=False, index=True),
    sa.Column("from_version", sa.BigInteger),
    sa.Column("to_version", sa.BigInteger, nullable=False),
    sa.Column("target", sa.Text, nullable=False),
    sa.Column("rows", sa.BigInteger),
    sa.Column("bytes", sa.BigInteger),
    sa.Column("checksum", sa.String(80)),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("trigger", sa.String(16), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    sa.Column("error", sa.Text),
    sa.Column("actor", sa.String(128)),
    sa.Column("path", sa.Text),
    sa.Column("grant_id", sa.Integer),
)

catalog_resource = sa.Table(
    "catalog_resource",
    metadata,
    sa.Column("code", sa.String(32), primary_key=True),
    sa.Column("dataset", sa.String(127), nullable=False, unique=True),
    sa.Column("owner", sa.String(63), nullable=False),
    sa.Column("latest_version", sa.Integer, nullable=False),
    sa.Column("published_version", sa.Integer),
    sa.Column("state", sa.JSON, nullable=False),
    sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=False),
)

catalog_entry = sa.Table(
    "catalog_entry",
    metadata,
    sa.Column("code", sa.String(32), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("definition", sa.JSON, nullable=False),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("diff", sa.JSON),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
)

catalog_event = sa.Table(
    "catalog_event",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("code", sa.String(32), nullable=False, index=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("from_status", sa.String(16)),
    sa.Column("to_status", sa.String(16), nullable=False),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("department", sa.String(63)),
    sa.Column("comment", sa.Text),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)

organisation = sa.Table(
    "identity_organisation",
    metadata,
    sa.Column("code", sa.String(63), primary_key=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("level", sa.String(16), nullable=False),
    sa.Column("parent", sa.String(63), sa.ForeignKey("identity_organisation.code")),
)

user = sa.Table(
    "identity_user",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    sa.Column("display_name", sa.String(255), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column(
        "organisation", sa.String(63), sa.ForeignKey("identity_organisation.code"), nullable=False
    ),
    sa.Column("password_hash", sa.String(255)),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("failed_attempts", sa.Integer, nullable=False),
    sa.Column("locked_until", sa.DateTime(timezone=True)),
    sa.Column("password_changed_at", sa.DateTime(timezone=True)),
    sa.Column("token_generation", sa.Integer, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("created_by", sa.String(64), nullable=False),
)

password_history = sa.Table(
    "identity_password_history",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("identity_user.id"), nullable=False, index=True),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
)

role_assignment = sa.Table(
    "identity_role_assignment",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("identity_user.id"), nullable=False, index=True),
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("scope", sa.String(63), sa.ForeignKey("identity_organisation.code"), nullable=False),
    sa.Column("assigned_by", sa.String(64), nullable=False),
    sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("user_id", "role", "scope"),
)

grant = sa.Table(
    "identity_grant",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("grantee_user", sa.Integer, sa.ForeignKey("identity_user.id")),
    sa.Column("grantee_organisation", sa.String(63), sa.ForeignKey("identity_organisation.code")),
    sa.Column("verb", sa.String(32), nullable=False),
    sa.Column("securable", sa.String(200), nullable=False, index=True),
    sa.Column("granted_by", sa.String(64), nullable=False),
    sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint(
        "(grantee_user IS NULL) <> (grantee_organisation IS NULL)",
        name="identity_grant_one_grantee",
    ),
)

# The audit ledger: append-only, each row sealed with an HMAC over the previous row's hash and
# its own fields (services.audit). Ids are assigned by the appender, contiguous from 1.
audit_event = sa.Table(
    "audit_event",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("principal", sa.String(128), nullable=False, index=True),
    sa.Column("organisation", sa.String(63)),
    sa.Column("action", sa.String(63), nullable=False, index=True),
    sa.Column("object", sa.String(255), nullable=False, index=True),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("client", sa.String(64)),
    sa.Column("request_id", sa.String(64)),
    sa.Column("details", sa.JSON, nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)

# Sharing (services.sharing): applications for catalog resources, each step an event, and the
# grant an authorised application produces (columns, row filter, masks, quota in ``terms``).
share_application = sa.Table(
    "share_application",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("code", sa.String(32), nullable=False, unique=True),
    sa.Column("applicant", sa.String(64), nullable=False),
    sa.Column("organisation", sa.String(63), nullable=False, index=True),
    sa.Column("resource", sa.String(32), nullable=False, index=True),
    sa.Column("dataset", sa.String(127), nullable=False),
    sa.Column("owner", sa.String(63), nullable=False, index=True),
    sa.Column("request", sa.JSON, nullable=False),
    sa.Column("status", sa.String(32), nullable=False, index=True),
    sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
)

share_application_event = sa.Table(
    "share_application_event",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "application", sa.Integer, sa.ForeignKey("share_application.id"), nullable=False, index=True
    ),  # fmt: skip
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("from_status", sa.String(32)),
    sa.Column("to_status", sa.String(32), nullable=False),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("organisation", sa.String(63)),
    sa.Column("comment", sa.Text),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)

share_grant = sa.Table(
    "share_grant",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "application",
        sa.Integer,
        sa.ForeignKey("share_application.id"),
        nullable=False,
        unique=True,
    ),  # fmt: skip
    sa.Column("organisation", sa.String(63), nullable=False, index=True),
    sa.Column("resource", sa.String(32), nullable=False, index=True),
    sa.Column("dataset", sa.String(127), nullable=False, index=True),
    sa.Column("mode", sa.String(32), nullable=False),
    sa.Column("terms", sa.JSON, nullable=False),
    sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
    sa.Column("valid_until", sa.DateTime(timezone=True), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("granted_by", sa.String(64), nullable=False),
    sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("ended_by", sa.String(64)),
    sa.Column("ended_at", sa.DateTime(timezone=True)),
)

# Calls and rows per grant, principal and minute: the grant's quota and the usual volume.
share_call = sa.Table(
    "share_call",
    metadata,
    sa.Column("grant_id", sa.Integer, sa.ForeignKey("share_grant.id"), primary_key=True),
    sa.Column("principal", sa.String(128), primary_key=True),
    sa.Column("minute", sa.DateTime(timezone=True), primary_key=True),
    sa.Column("calls", sa.Integer, nullable=False),
    sa.Column("rows", sa.BigInteger, nullable=False),
    sa.Column("alerted", sa.Boolean, nullable=False),
)

# The message service (services.notifications): a message, then one delivery per recipient and
# channel, claimed by workers, retried with backoff; a resend is a new delivery linking the old.
DELIVERY_STATUSES = ("pending", "sending", "sent", "failed", "dead")

notify_message = sa.Table(
    "notify_message",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("event", sa.String(63), nullable=False, index=True),
    sa.Column("object", sa.String(255), nullable=False, index=True),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("recipients", sa.JSON, nullable=False),
    sa.Column("created_by", sa.String(128), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

notify_delivery = sa.Table(
    "notify_delivery",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "message", sa.Integer, sa.ForeignKey("notify_message.id"), nullable=False, index=True
    ),  # fmt: skip
    sa.Column("recipient", sa.String(128), nullable=False, index=True),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("address", sa.String(255), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", sa.DateTime(timezone=True)),
    sa.Column("lease_until", sa.DateTime(timezone=True)),
    sa.Column("worker", sa.String(64)),
    sa.Column("last_error", sa.Text),
    sa.Column("sent_at", sa.DateTime(timezone=True)),
    sa.Column("read_at", sa.DateTime(timezone=True)),
    sa.Column("resend_of", sa.Integer, sa.ForeignKey("notify_delivery.id"), index=True),
    sa.Column("idempotency_key", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("notify_delivery_due", "status", "next_attempt_at"),
)

# Where a user receives e-mail (an address is contact data, not a secret).
notify_contact = sa.Table(
    "notify_contact",
    metadata,
    sa.Column("user_id", sa.Integer, sa.ForeignKey("identity_user.id"), primary_key=True),
    sa.Column("channel", sa.String(16), primary_key=True),
    sa.Column("address", sa.String(255), nullable=False),
    sa.Column("set_by", sa.String(64), nullable=False),
    sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
)

# Delta Sharing bearer tokens, one in force per grant: only their SHA-256 digest is kept.
share_token = sa.Table(
    "share_token",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("grant_id", sa.Integer, sa.ForeignKey("share_grant.id"), nullable=False, index=True),
    sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
    sa.Column("principal", sa.String(64), nullable=False),
    sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True)),
)

# Delay alerts (services.notifications.alerts): one row per overdue object and stage (a run
# late, an application step warned, then escalated), so each is raised once, with its message.
notify_alert = sa.Table(
    "notify_alert",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(255), nullable=False, unique=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("object", sa.String(255), nullable=False, index=True),
    sa.Column("stage", sa.String(16), nullable=False),
    sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
    sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("recipients", sa.JSON, nullable=False),
    sa.Column("message", sa.Integer, sa.ForeignKey("notify_message.id"), nullable=False),
    sa.Column("resolved_at", sa.DateTime(timezone=True)),
)
