"""The product's tables, one SQLModel class each.

Rules for foreign keys: rows a user owns are deleted with the user (CASCADE); rows that only *mention*
a user (who approved, who invited, who acted) keep existing and lose the reference (SET NULL), so that
deleting a user can never fail on a dangling reference. Audit rows keep what they need without the
user's email once anonymised. Enumerations are strings with CHECK constraints so both PostgreSQL and
SQLite enforce them.
"""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

# Stable constraint names, so migrations can drop and alter them on PostgreSQL and SQLite alike.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def table_of(model: type[SQLModel]) -> sa.Table:
    """A table model's Core table, for bulk DELETE/UPDATE statements that bypass the ORM session (SQLModel sets
    `__table__` when it makes the class; its type stubs do not declare it)."""
    table = getattr(model, "__table__", None)
    if not isinstance(table, sa.Table):
        raise TypeError(f"{model.__name__} is not a table model")
    return table


class Role(str, enum.Enum):
    admin = "admin"
    user = "user"


class UserStatus(str, enum.Enum):
    active = "active"
    deactivated = "deactivated"
    pending_registration = "pending_registration"


class WaitlistStatus(str, enum.Enum):
    pending_email_confirmation = "pending_email_confirmation"
    pending_admin_approval = "pending_admin_approval"
    approved = "approved"
    rejected = "rejected"


class TokenSource(str, enum.Enum):
    waitlist = "waitlist"
    admin_invite = "admin_invite"
    user_invite = "user_invite"


class InvitationStatus(str, enum.Enum):
    pending = "pending"
    waitlisted = "waitlisted"
    registration_sent = "registration_sent"
    accepted = "accepted"
    expired = "expired"
    revoked = "revoked"


class ActionType(str, enum.Enum):
    password_reset = "password_reset"
    email_change = "email_change"
    data_export = "data_export"
    account_delete = "account_delete"
    account_reactivate = "account_reactivate"
    email_verification = "email_verification"


class ActionStatus(str, enum.Enum):
    pending = "pending"
    completed = "completed"
    expired = "expired"
    cancelled = "cancelled"


class ItemRole(str, enum.Enum):
    user = "user"
    assistant = "assistant"


class QueryState(str, enum.Enum):
    queued = "queued"
    conversation = "conversation"
    codegen = "codegen"
    rendering = "rendering"
    repairing = "repairing"
    completed = "completed"
    failed = "failed"
    cancelled = "cancelled"


# A query is running in these states (the sweeper looks after them) and has ended in these.
ACTIVE_STATES = (
    QueryState.queued,
    QueryState.conversation,
    QueryState.codegen,
    QueryState.rendering,
    QueryState.repairing,
)
TERMINAL_STATES = (QueryState.completed, QueryState.failed, QueryState.cancelled)


class FileKind(str, enum.Enum):
    model = "model"
    upload = "upload"
    export = "export"


class OutboxStatus(str, enum.Enum):
    pending = "pending"
    sending = "sending"
    sent = "sent"
    failed = "failed"


def _values(e: type[enum.Enum]) -> str:
    return ", ".join(f"'{m.value}'" for m in e)


def _check_in(column: str, e: type[enum.Enum]) -> sa.CheckConstraint:
    return sa.CheckConstraint(f"{column} IN ({_values(e)})", name=column)


def _uuid_pk() -> Any:
    return Field(default_factory=uuid.uuid4, primary_key=True)


class UTCDateTime(sa.TypeDecorator):
    """A moment in UTC, read back timezone-aware on every database (SQLite included), so API times carry a zone.

    PostgreSQL stores `timestamptz`. SQLite has no zone: values are written as naive UTC (what existing rows
    hold, and what makes its text comparisons right) and given `tzinfo=UTC` when read. A naive value
    handed in is taken as UTC."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def coerce_compared_value(self, op: Any, value: Any) -> Any:
        """`column - timedelta(...)` is interval arithmetic, not a moment to convert."""
        if isinstance(value, timedelta):
            return sa.Interval()
        return self

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# JSONB on PostgreSQL (indexable, compact, compared by value); JSON text elsewhere.
JSONType = sa.JSON().with_variant(JSONB(), "postgresql")
# The password hash of an account that has no password of its own yet (an unconfirmed registration, a seeded or
# test account): no password matches it, so nobody signs in with it until a real hash replaces it.
NO_PASSWORD = "!"


def _ts(nullable: bool = False, default: bool = True) -> Any:
    kwargs: dict[str, Any] = {"sa_type": UTCDateTime(), "nullable": nullable}
    if default and not nullable:
        kwargs["default_factory"] = utcnow
    else:
        kwargs["default"] = None
    return Field(**kwargs)


def _fk(target: str, ondelete: str, nullable: bool = True, index: bool = True) -> Any:
    return Field(
        default=None if nullable else ...,
        sa_column_args=[sa.ForeignKey(target, ondelete=ondelete)],
        nullable=nullable,
        index=index,
    )


def _json(nullable: bool = False) -> Any:
    return Field(default_factory=dict, sa_type=JSONType, nullable=nullable)


class User(SQLModel, table=True):
    __tablename__ = "users"
    __table_args__ = (_check_in("role", Role), _check_in("status", UserStatus))

    id: uuid.UUID = _uuid_pk()
    email: str = Field(max_length=320, unique=True, index=True)
    password_hash: str = Field(default=NO_PASSWORD, max_length=255)  # NOT NULL: every account has one
    display_name: str = Field(default="", max_length=120)
    role: str = Field(default=Role.user.value, max_length=16, index=True)
    status: str = Field(default=UserStatus.active.value, max_length=32, index=True)
    # Set only while a self-requested deletion waits out its grace window; an admin's suspension leaves it empty.
    deactivated_until: datetime | None = _ts(nullable=True)
    deactivation_reason: str | None = Field(default=None, max_length=500)
    deactivated_by: uuid.UUID | None = _fk("users.id", "SET NULL", index=False)
    marketing_consent: bool = Field(default=False)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    last_login_at: datetime | None = _ts(nullable=True)


class AppSettings(SQLModel, table=True):
    """Singleton row (id = 1): platform policy an admin changes at run time."""

    __tablename__ = "app_settings"
    __table_args__ = (
        sa.CheckConstraint("id = 1", name="singleton"),
        sa.CheckConstraint("invitation_quota_per_user >= 0", name="quota"),
    )

    id: int = Field(default=1, primary_key=True)
    waitlist_enabled: bool = Field(default=False)
    invitations_enabled: bool = Field(default=True)
    invitation_waitlist_required: bool = Field(default=False)
    invitation_quota_per_user: int = Field(default=3)  # invitation mails per user per 30 days
    updated_by: uuid.UUID | None = _fk("users.id", "SET NULL", index=False)
    updated_at: datetime = _ts()


class WaitlistEntry(SQLModel, table=True):
    __tablename__ = "waitlist_entries"
    __table_args__ = (_check_in("status", WaitlistStatus),)

    id: uuid.UUID = _uuid_pk()
    email: str = Field(max_length=320, unique=True, index=True)
    marketing_consent: bool = Field(default=False)
    invited_by: uuid.UUID | None = _fk("users.id", "SET NULL")
    email_confirmed_at: datetime | None = _ts(nullable=True)
    status: str = Field(default=WaitlistStatus.pending_email_confirmation.value, max_length=32, index=True)
    approved_by: uuid.UUID | None = _fk("users.id", "SET NULL", index=False)
    approved_at: datetime | None = _ts(nullable=True)
    rejected_at: datetime | None = _ts(nullable=True)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class WaitlistConfirmationToken(SQLModel, table=True):
    """Double opt-in link for a waitlist entry; only the SHA-256 of the token is stored."""

    __tablename__ = "waitlist_confirmation_tokens"

    id: uuid.UUID = _uuid_pk()
    entry_id: uuid.UUID = _fk("waitlist_entries.id", "CASCADE", nullable=False)
    token_hash: str = Field(max_length=64, unique=True)
    expires_at: datetime = _ts(default=False)
    consumed_at: datetime | None = _ts(nullable=True)
    created_at: datetime = _ts()


class RegistrationToken(SQLModel, table=True):
    __tablename__ = "registration_tokens"
    __table_args__ = (
        _check_in("source", TokenSource),
        sa.CheckConstraint("used_count >= 0 AND used_count <= max_uses", name="uses"),
    )

    id: uuid.UUID = _uuid_pk()
    token_hash: str = Field(max_length=64, unique=True)
    email: str = Field(max_length=320, index=True)
    source: str = Field(max_length=16)
    invited_by: uuid.UUID | None = _fk("users.id", "SET NULL")
    waitlist_entry_id: uuid.UUID | None = _fk("waitlist_entries.id", "SET NULL", index=False)
    max_uses: int = Field(default=1)
    used_count: int = Field(default=0)
    expires_at: datetime = _ts(default=False)
    consumed_at: datetime | None = _ts(nullable=True)
    revoked_at: datetime | None = _ts(nullable=True)
    created_at: datetime = _ts()


class Invitation(SQLModel, table=True):
    __tablename__ = "invitations"
    __table_args__ = (
        sa.UniqueConstraint("inviter_id", "email", name="uq_invitations_inviter_id_email"),
        _check_in("status", InvitationStatus),
    )

    id: uuid.UUID = _uuid_pk()
    inviter_id: uuid.UUID = _fk("users.id", "CASCADE", nullable=False)
    email: str = Field(max_length=320, index=True)
    status: str = Field(default=InvitationStatus.pending.value, max_length=32)
    registration_token_id: uuid.UUID | None = _fk("registration_tokens.id", "SET NULL", index=False)
    waitlist_entry_id: uuid.UUID | None = _fk("waitlist_entries.id", "SET NULL", index=False)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class AccountAction(SQLModel, table=True):
    """An email-confirmed account action; the token's SHA-256 only, payload holds e.g. a new password hash."""

    __tablename__ = "account_actions"
    __table_args__ = (_check_in("type", ActionType), _check_in("status", ActionStatus))

    id: uuid.UUID = _uuid_pk()
    user_id: uuid.UUID = _fk("users.id", "CASCADE", nullable=False)
    type: str = Field(max_length=32)
    token_hash: str = Field(max_length=64, unique=True)
    payload: dict = _json()
    status: str = Field(default=ActionStatus.pending.value, max_length=16)
    expires_at: datetime = _ts(default=False)
    completed_at: datetime | None = _ts(nullable=True)
    created_at: datetime = _ts()


class Notification(SQLModel, table=True):
    """A durable event for one recipient; its integer id is the SSE event id."""

    __tablename__ = "notifications"
    __table_args__ = (sa.Index("ix_notifications_user_id_id", "user_id", "id"),)

    id: int | None = Field(
        default=None,
        sa_column=sa.Column(sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
    )
    user_id: uuid.UUID = _fk("users.id", "CASCADE", nullable=False, index=False)
    event_type: str = Field(max_length=64)
    payload: dict = _json()
    read_at: datetime | None = _ts(nullable=True)
    created_at: datetime = _ts()


class ChatContext(SQLModel, table=True):
    __tablename__ = "chat_contexts"
    __table_args__ = (sa.CheckConstraint("units IN ('mm', 'in')", name="units"),)

    id: uuid.UUID = _uuid_pk()
    owner_id: uuid.UUID = _fk("users.id", "CASCADE", nullable=False)
    name: str = Field(default="New chat", max_length=200)
    conversation_model_id: str | None = Field(default=None, max_length=100)
    codegen_model_id: str | None = Field(default=None, max_length=100)
    units: str = Field(default="mm", max_length=4)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    # The version the next prompt builds on, when the user restored an older one (or edited one); a version
    # created after `current_version_at` takes over again (see chat3d.domain.versions.current_version).
    # No foreign key on purpose: chat_items already references chat_contexts, and a cycle would break the
    # unit of work's insert order; the reader checks the item still exists in this chat.
    current_version_item_id: uuid.UUID | None = Field(default=None, nullable=True)
    current_version_at: datetime | None = _ts(nullable=True)


class ChatItem(SQLModel, table=True):
    """One message in a chat; `segments` is a list of typed JSON parts (text, model, attachments, error)."""

    __tablename__ = "chat_items"
    __table_args__ = (
        _check_in("role", ItemRole),
        sa.CheckConstraint("rating IN (-1, 0, 1)", name="rating"),
        sa.Index("ix_chat_items_context_created", "context_id", "created_at"),
    )

    id: uuid.UUID = _uuid_pk()
    context_id: uuid.UUID = _fk("chat_contexts.id", "CASCADE", nullable=False, index=False)
    owner_id: uuid.UUID = _fk("users.id", "CASCADE", nullable=False)
    role: str = Field(max_length=16)
    segments: list = Field(default_factory=list, sa_type=JSONType)
    rating: int = Field(default=0)
    regenerated_from_id: uuid.UUID | None = _fk("chat_items.id", "SET NULL", index=False)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class Query(SQLModel, table=True):
    """A prompt's run through the pipeline; durable so a restarted worker can resume or fail it."""

    __tablename__ = "queries"
    __table_args__ = (_check_in("state", QueryState), sa.Index("ix_queries_state_lease", "state", "lease_expires_at"))

    id: uuid.UUID = _uuid_pk()
    owner_id: uuid.UUID = _fk("users.id", "CASCADE", nullable=False)
    context_id: uuid.UUID = _fk("chat_contexts.id", "CASCADE", nullable=False)
    user_item_id: uuid.UUID | None = _fk("chat_items.id", "SET NULL", index=False)
    assistant_item_id: uuid.UUID | None = _fk("chat_items.id", "SET NULL", index=False)
    regenerates_item_id: uuid.UUID | None = _fk("chat_items.id", "SET NULL", index=False)
    prompt: str = Field(default="", sa_type=sa.Text)
    conversation_model_id: str | None = Field(default=None, max_length=100)
    codegen_model_id: str | None = Field(default=None, max_length=100)
    state: str = Field(default=QueryState.queued.value, max_length=16)
    detail: str = Field(default="", sa_type=sa.Text)
    round: int = Field(default=0)
    attempts: int = Field(default=0)
    worker_id: str | None = Field(default=None, max_length=100)
    lease_expires_at: datetime | None = _ts(nullable=True)
    input_tokens: int = Field(default=0)
    output_tokens: int = Field(default=0)
    cost_usd: float = Field(default=0.0)
    created_at: datetime = _ts()
    started_at: datetime | None = _ts(nullable=True)
    finished_at: datetime | None = _ts(nullable=True)


class StoredFile(SQLModel, table=True):
    """A file on disk under STORAGE_DIR: a rendered model, an upload, or a data export."""

    __tablename__ = "files"
    __table_args__ = (_check_in("kind", FileKind),)

    id: uuid.UUID = _uuid_pk()
    owner_id: uuid.UUID = _fk("users.id", "CASCADE", nullable=False)
    context_id: uuid.UUID | None = _fk("chat_contexts.id", "SET NULL")
    item_id: uuid.UUID | None = _fk("chat_items.id", "SET NULL")
    query_id: uuid.UUID | None = _fk("queries.id", "SET NULL", index=False)
    kind: str = Field(default=FileKind.model.value, max_length=16)
    format: str = Field(max_length=16)
    filename: str = Field(max_length=255)
    content_type: str = Field(max_length=100)
    size: int = Field(default=0, sa_type=sa.BigInteger)
    sha256: str = Field(max_length=64)
    storage_path: str = Field(max_length=500)
    expires_at: datetime | None = _ts(nullable=True)
    created_at: datetime = _ts()


class AdminAuditLog(SQLModel, table=True):
    __tablename__ = "admin_audit_logs"

    id: uuid.UUID = _uuid_pk()
    actor_id: uuid.UUID | None = _fk("users.id", "SET NULL")
    action: str = Field(max_length=64, index=True)
    target_type: str = Field(default="", max_length=32)
    target_id: str | None = Field(default=None, max_length=64)
    details: dict = _json()
    ip: str | None = Field(default=None, max_length=64)
    created_at: datetime = _ts()


class SecurityEvent(SQLModel, table=True):
    __tablename__ = "security_events"

    id: uuid.UUID = _uuid_pk()
    user_id: uuid.UUID | None = _fk("users.id", "SET NULL")
    event_type: str = Field(max_length=64, index=True)
    email: str | None = Field(default=None, max_length=320)
    ip: str | None = Field(default=None, max_length=64)
    user_agent: str | None = Field(default=None, max_length=500)
    details: dict = _json()
    created_at: datetime = _ts()


class UserSession(SQLModel, table=True):
    """One login: the JWT's jti, so a token can be listed and revoked before it expires."""

    __tablename__ = "user_sessions"

    id: uuid.UUID = _uuid_pk()
    user_id: uuid.UUID = _fk("users.id", "CASCADE", nullable=False)
    jti: str = Field(max_length=64, unique=True)
    created_at: datetime = _ts()
    last_seen_at: datetime = _ts()
    expires_at: datetime = _ts(default=False)
    revoked_at: datetime | None = _ts(nullable=True)
    user_agent: str | None = Field(default=None, max_length=500)
    ip: str | None = Field(default=None, max_length=64)


class OutboxMessage(SQLModel, table=True):
    """A mail written in the transaction that causes it and delivered later by the worker, with retries."""

    __tablename__ = "outbox_messages"
    __table_args__ = (
        _check_in("status", OutboxStatus),
        sa.Index("ix_outbox_messages_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: uuid.UUID = _uuid_pk()
    to_email: str = Field(max_length=320)
    template: str = Field(max_length=64)
    subject: str = Field(max_length=300)
    context: dict = _json()
    status: str = Field(default=OutboxStatus.pending.value, max_length=16)
    attempts: int = Field(default=0)
    next_attempt_at: datetime = _ts()
    last_error: str | None = Field(default=None, sa_type=sa.Text)
    created_at: datetime = _ts()
    sent_at: datetime | None = _ts(nullable=True)
    user_id: uuid.UUID | None = _fk("users.id", "SET NULL")


class Share(SQLModel, table=True):
    """A read-only link to one version (an assistant item with a model); only the token's SHA-256 is stored."""

    __tablename__ = "shares"

    id: uuid.UUID = _uuid_pk()
    owner_id: uuid.UUID = _fk("users.id", "CASCADE", nullable=False)
    item_id: uuid.UUID = _fk("chat_items.id", "CASCADE", nullable=False)
    context_id: uuid.UUID = _fk("chat_contexts.id", "CASCADE", nullable=False, index=False)
    token_hash: str = Field(max_length=64, unique=True)
    title: str | None = Field(default=None, max_length=200)  # shown only when the owner chose one
    expires_at: datetime | None = _ts(nullable=True)
    revoked_at: datetime | None = _ts(nullable=True)
    views: int = Field(default=0)
    last_viewed_at: datetime | None = _ts(nullable=True)
    created_at: datetime = _ts()


class DeploymentKey(SQLModel, table=True):
    """A signing key generated once for a deployment when no environment variable provides it.

    Every process of the deployment reads the same row, so tokens signed by one process verify in another,
    and restarts keep sessions. A restore needs this table (or the matching environment variables).
    """

    __tablename__ = "deployment_keys"

    name: str = Field(max_length=64, primary_key=True)
    value: str = Field(max_length=255)
    created_at: datetime = _ts()


class InvitationSend(SQLModel, table=True):
    """One invitation mail sent: the quota and the per-recipient limit count these, whatever became of the row."""

    __tablename__ = "invitation_sends"
    __table_args__ = (
        sa.Index("ix_invitation_sends_inviter_id_sent_at", "inviter_id", "sent_at"),
        sa.Index("ix_invitation_sends_recipient_sent_at", "recipient", "sent_at"),
    )

    id: uuid.UUID = _uuid_pk()
    # SET NULL: a deleted inviter's sends still count against the recipient's 24-hour limit.
    inviter_id: uuid.UUID | None = _fk("users.id", "SET NULL", index=False)
    recipient: str = Field(max_length=320)
    sent_at: datetime = _ts()


metadata = SQLModel.metadata


class LlmCredential(SQLModel, table=True):
    """A language-model provider's credential added in the admin console (issue 26).

    `secret` holds the API key (or Ollama's bearer token) encrypted with the deployment's credential key
    (chat3d.domain.keys); the clear value is never stored, shown again, logged or exported. `fingerprint` is
    what the console shows instead (the last four characters).
    """

    __tablename__ = "llm_credentials"
    __table_args__ = (sa.CheckConstraint("provider IN ('openai', 'anthropic', 'xai', 'ollama')", name="provider"),)

    provider: str = Field(max_length=16, primary_key=True)
    secret: str = Field(default="", sa_type=sa.Text())
    base_url: str = Field(default="", max_length=500)  # Ollama's server; empty for the hosted vendors
    fingerprint: str = Field(default="", max_length=16)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    updated_by: uuid.UUID | None = _fk("users.id", "SET NULL", index=False)


class LlmModelChoice(SQLModel, table=True):
    """An admin's choice for one model: whether users may pick it, and whether it is a stage's default.

    A model without a row may be picked (deployments configured by environment keep working unchanged).
    """

    __tablename__ = "llm_model_choices"

    model_id: str = Field(max_length=128, primary_key=True)
    enabled: bool = Field(default=True)
    default_conversation: bool = Field(default=False)
    default_codegen: bool = Field(default=False)
    updated_at: datetime = _ts()
    updated_by: uuid.UUID | None = _fk("users.id", "SET NULL", index=False)


class EvaluationRunState(str, enum.Enum):
    queued = "queued"
    running = "running"
    completed = "completed"
    stopped = "stopped"  # the spend passed the cap the admin confirmed
    cancelled = "cancelled"
    failed = "failed"


class EvaluationRun(SQLModel, table=True):
    """An admin's evaluation of one model on a benchmark suite (issue 23 item 4), run by a worker job.

    The row is the job's state (a worker claims `queued`, updates progress after each task) and, once
    finished, the history an operator compares models by: pass rate and cost per valid part, with the suite
    and code versions the figures belong to. Rules: chat3d.domain.evaluations.
    """

    __tablename__ = "evaluation_runs"
    __table_args__ = (_check_in("state", EvaluationRunState), sa.Index("ix_evaluation_runs_created_at", "created_at"))

    id: uuid.UUID = _uuid_pk()
    model: str = Field(max_length=256)  # what the admin picked: "offline", a model id, or "CONVERSATION+CODEGEN"
    conversation_model: str = Field(max_length=128)
    codegen_model: str = Field(max_length=128)
    suite: str = Field(max_length=64)
    suite_version: str = Field(default="", max_length=128)
    code_version: str = Field(default="", max_length=128)
    tasks_total: int = Field(default=0)
    tasks_done: int = Field(default=0)
    valid_parts: int = Field(default=0)
    passed: int = Field(default=0)
    input_tokens: int = Field(default=0)
    output_tokens: int = Field(default=0)
    estimate_usd: float = Field(default=0.0)
    cost_cap_usd: float = Field(default=0.0)
    cost_usd: float = Field(default=0.0)
    seconds: float = Field(default=0.0)
    state: str = Field(default=EvaluationRunState.queued.value, max_length=16)
    message: str = Field(default="", sa_type=sa.Text)
    cancel_requested: bool = Field(default=False)
    current_task: str = Field(default="", max_length=64)
    results: list = Field(default_factory=list, sa_type=JSONType)  # one scored row per task (bench.eval.harness)
    worker_id: str | None = Field(default=None, max_length=100)
    created_by: uuid.UUID | None = _fk("users.id", "SET NULL", index=False)
    created_at: datetime = _ts()
    started_at: datetime | None = _ts(nullable=True)
    heartbeat_at: datetime | None = _ts(nullable=True)
    finished_at: datetime | None = _ts(nullable=True)
