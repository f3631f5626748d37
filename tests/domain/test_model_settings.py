"""Models set up in the admin console: encrypted credentials, rotation, removal mid-query, environment wins.

Connections go to a local server speaking each provider's wire protocol (tests/llm/llm_fakes.py), through the
real SDKs; nothing is mocked.
"""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
import sqlalchemy as sa
from sqlmodel import select

from chat3d.db.engine import session_scope
from chat3d.db.models import AdminAuditLog, ChatItem, Query, Role, User
from chat3d.domain import chats, model_settings
from chat3d.domain.errors import Conflict, InvalidInput
from chat3d.llm import registry
from chat3d.settings import reset_settings_cache
from tests.llm.llm_fakes import FakeLLMServer, Reply, free_port, serving, sse

KEY = "sk-live-0123456789abcdefWXYZ"
NEW_KEY = "sk-live-9876543210fedcbaQRST"
ENV_FIELDS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "XAI_API_KEY", "OLLAMA_BASE_URL", "OLLAMA_TOKEN",
              "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL", "DEFAULT_CONVERSATION_MODEL", "DEFAULT_CODEGEN_MODEL")


@pytest.fixture(scope="module")
def fake_llm():
    with serving(FakeLLMServer()) as fake:
        yield fake


@pytest.fixture
def fake(fake_llm):
    fake_llm.reset()
    yield fake_llm
    fake_llm.reset()


@pytest.fixture
def clean_env(db, monkeypatch):
    """No model configuration from the developer's environment: the console decides."""
    for name in ENV_FIELDS:
        monkeypatch.setenv(name, "")
    monkeypatch.delenv("LLM_MODELS_FILE", raising=False)
    reset_settings_cache()
    yield
    reset_settings_cache()


@pytest.fixture
def admin(make_user, clean_env) -> User:
    return make_user("ops@example.com", role=Role.admin.value)


def save(admin: User, provider: str, secret: str, base_url: str = ""):
    with session_scope() as s:
        return model_settings.save_credential(s, s.get(User, admin.id), provider, secret, base_url, ip="10.0.0.1")


def delete(admin: User, provider: str) -> None:
    with session_scope() as s:
        model_settings.delete_credential(s, s.get(User, admin.id), provider)


def audit_rows() -> list[AdminAuditLog]:
    with session_scope() as s:
        return list(s.exec(select(AdminAuditLog).order_by(AdminAuditLog.created_at)).all())


def all_text(session) -> str:
    """Every value of the credential and audit tables, as the database returns them."""
    rows = [*session.execute(sa.text("SELECT * FROM llm_credentials")).all(),
            *session.execute(sa.text("SELECT * FROM admin_audit_logs")).all()]
    return json.dumps([list(r) for r in rows], default=str)


def test_the_key_is_encrypted_at_rest_and_shown_only_by_fingerprint(admin, db, caplog):
    caplog.set_level(logging.DEBUG)
    row = save(admin, "openai", KEY)

    assert row.fingerprint == "…WXYZ"
    with session_scope() as s:
        stored = s.execute(sa.text("SELECT secret FROM llm_credentials WHERE provider = 'openai'")).scalar_one()
        assert KEY not in stored and KEY not in all_text(s)
        providers, _models, _ = model_settings.console_view(s)
    assert model_settings.load().settings.openai_api_key == KEY  # decrypted only for the model call
    shown = {p.provider: p for p in providers}["openai"]
    assert (shown.source, shown.fingerprint) == ("console", "…WXYZ") and KEY not in repr(providers)
    entry = audit_rows()[-1]
    assert (entry.action, entry.target_id, entry.details["fingerprint"]) == ("model.credential.create", "openai", "…WXYZ")
    assert KEY not in caplog.text
    assert {"gpt-4.1", "gpt-4.1-mini"} <= {m.id for m in model_settings.pickable_models()}


def test_a_different_credential_key_cannot_read_the_row_and_the_console_still_works(admin, db, monkeypatch):
    from chat3d.llm.base import ProviderError

    save(admin, "anthropic", KEY)
    monkeypatch.setenv("CREDENTIAL_KEY", "another-deployment-key-0123456789abcdef")
    reset_settings_cache()
    config = model_settings.load()
    assert config.unreadable == {"anthropic"} and config.settings.anthropic_api_key == ""
    with pytest.raises(ProviderError, match="cannot be read"):
        model_settings.check_usable(registry.get_model("claude-sonnet-4-5", config.settings), config)
    with session_scope() as s:
        shown = {p.provider: p for p in model_settings.console_view(s)[0]}["anthropic"]
    assert shown.unreadable and shown.fingerprint == "…WXYZ"
    with pytest.raises(InvalidInput, match="Replace the key"):
        model_settings.check_connection("anthropic")
    save(admin, "anthropic", NEW_KEY)  # replacing it is the way out
    assert model_settings.load().settings.anthropic_api_key == NEW_KEY


def test_rotate_replaces_the_key_and_the_client(admin, db):
    save(admin, "openai", KEY)
    first = model_settings.load().settings
    client = registry.get_provider(registry.get_model("gpt-4.1", first), first)
    save(admin, "openai", NEW_KEY)

    rotated = model_settings.load().settings
    assert rotated.openai_api_key == NEW_KEY
    assert registry.get_provider(registry.get_model("gpt-4.1", rotated), rotated) is not client
    actions = [(r.action, r.details.get("fingerprint")) for r in audit_rows()]
    assert actions == [("model.credential.create", "…WXYZ"), ("model.credential.rotate", "…QRST")]


def test_delete_removes_the_models_and_is_audited(admin, db):
    save(admin, "xai", KEY)
    assert "grok-4" in {m.id for m in model_settings.pickable_models()}
    delete(admin, "xai")

    assert "grok-4" not in {m.id for m in model_settings.pickable_models()}
    assert audit_rows()[-1].action == "model.credential.delete"
    with pytest.raises(Exception, match="No xAI credential"):
        delete(admin, "xai")


@pytest.mark.parametrize(("provider", "secret", "url", "message"), [
    ("openai", "", "", "Paste the API key"),
    ("openai", "sk abc", "", "spaces"),
    ("ollama", "", "", "Ollama server's address"),
    ("ollama", "", "ftp://host", "http:// or https://"),
    ("ollama", "", "http://user:pw@host:11434", "without credentials"),
    ("mistral", "k", "", "Unknown provider"),
])
def test_bad_input_is_refused_clearly_and_stores_nothing(admin, db, provider, secret, url, message):
    with pytest.raises(InvalidInput, match=message):
        save(admin, provider, secret, url)
    with session_scope() as s:
        assert s.execute(sa.text("SELECT count(*) FROM llm_credentials")).scalar_one() == 0


def test_an_environment_key_wins_and_is_read_only(admin, db, monkeypatch):
    save(admin, "openai", KEY)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-the-environment-1234")
    reset_settings_cache()

    assert model_settings.load().settings.openai_api_key == "sk-from-the-environment-1234"
    with session_scope() as s:
        shown = {p.provider: p for p in model_settings.console_view(s)[0]}["openai"]
    assert shown.source == "environment" and shown.env_name == "OPENAI_API_KEY"
    with pytest.raises(Conflict, match="set by the environment"):
        save(admin, "openai", NEW_KEY)


def test_defaults_come_from_the_environment_else_the_console_else_offline(admin, db, monkeypatch):
    assert model_settings.default_model("codegen") == "offline-templates"
    with session_scope() as s, pytest.raises(InvalidInput, match="add the OpenAI credential first"):
        model_settings.set_default(s, s.get(User, admin.id), "codegen", "gpt-4.1-mini")
    save(admin, "openai", KEY)
    with session_scope() as s:
        model_settings.set_default(s, s.get(User, admin.id), "codegen", "gpt-4.1-mini")
    assert model_settings.default_model("codegen") == "gpt-4.1-mini"
    with session_scope() as s, pytest.raises(Conflict, match="default model"):
        model_settings.set_enabled(s, s.get(User, admin.id), "gpt-4.1-mini", False)

    monkeypatch.setenv("DEFAULT_CODEGEN_MODEL", "offline-templates")
    reset_settings_cache()
    assert model_settings.default_model("codegen") == "offline-templates"
    with session_scope() as s, pytest.raises(Conflict, match="set by the environment"):
        model_settings.set_default(s, s.get(User, admin.id), "codegen", "gpt-4.1")


def test_a_disabled_model_is_not_offered_and_cannot_be_used(admin, db, make_user):
    from chat3d.pipeline.queries import submit_query

    save(admin, "openai", KEY)
    with session_scope() as s:
        model_settings.set_enabled(s, s.get(User, admin.id), "gpt-4.1", False)
    assert "gpt-4.1" not in {m.id for m in model_settings.pickable_models()}
    assert audit_rows()[-1].action == "model.disable"
    user = make_user("maker@example.com")
    with session_scope() as s:
        ctx = chats.create_context(s, user.id)
    with session_scope() as s, pytest.raises(InvalidInput, match="'GPT-4.1' is not available"):
        submit_query(s, user.id, ctx.id, "a plate", conversation_model_id="gpt-4.1")
    with session_scope() as s:
        model_settings.set_enabled(s, s.get(User, admin.id), "gpt-4.1", True)
    assert "gpt-4.1" in {m.id for m in model_settings.pickable_models()}
    assert audit_rows()[-1].action == "model.enable"


def test_connection_test_calls_the_configured_host_with_the_sdk(admin, db, fake, caplog):
    caplog.set_level(logging.DEBUG)  # the SDKs and httpx log requests at debug level: never the key
    fake.accepted_keys = {KEY}
    save(admin, "openai", KEY, f"{fake.url}/v1")
    assert "2 models" in model_settings.check_connection("openai")
    sent = fake.received[-1]
    assert (sent.path, sent.headers["authorization"]) == ("/v1/models", f"Bearer {KEY}")

    save(admin, "anthropic", NEW_KEY, fake.url)
    with pytest.raises(InvalidInput, match="refused"):
        model_settings.check_connection("anthropic")
    sent = fake.received[-1].headers
    assert "anthropic-version" in sent and NEW_KEY in (sent.get("x-api-key"), sent.get("authorization", "")[7:])

    fake.accepted_keys = None
    save(admin, "ollama", "", fake.url)
    assert "1 model" in model_settings.check_connection("ollama")
    assert fake.received[-1].path == "/api/tags"
    assert caplog.records and KEY not in caplog.text and NEW_KEY not in caplog.text


def test_connection_test_names_an_unreachable_host(admin, db):
    save(admin, "openai", KEY, f"http://127.0.0.1:{free_port()}/v1")
    with pytest.raises(InvalidInput, match="could not be reached"):
        model_settings.check_connection("openai")


def _openai_chunk(delta: dict | None = None, finish: str | None = None, usage: dict | None = None) -> dict:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    return {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4.1-mini", "choices": choices,
            "usage": usage}


async def test_a_running_query_whose_key_is_removed_fails_clearly(admin, db, make_user, fake):
    from chat3d.pipeline import queries
    from chat3d.pipeline.runner import QueryRunner

    save(admin, "openai", KEY, f"{fake.url}/v1")
    user = make_user("maker@example.com")
    call = {"index": 0, "id": "call_1", "type": "function",
            "function": {"name": "create_3d_model", "arguments": '{"brief": "an 80 x 50 x 5 mm plate"}'}}
    # The conversation answers slowly; the key is deleted while it does, so the code step must not run.
    fake.queue(Reply(delay_s=1.0, chunks=sse(_openai_chunk({"role": "assistant", "content": "Modelling it."}),
                                             _openai_chunk({"tool_calls": [call]}), _openai_chunk({}, finish="tool_calls"),
                                             _openai_chunk(usage={"prompt_tokens": 5, "completion_tokens": 5,
                                                                  "total_tokens": 10}), done=True)))
    with session_scope() as s:
        ctx = chats.create_context(s, user.id)
        sub = queries.submit_query(s, user.id, ctx.id, "a plate", conversation_model_id="gpt-4.1-mini",
                                   codegen_model_id="gpt-4.1-mini")
        qid = sub.query.id
    run = asyncio.create_task(QueryRunner(worker_id="test").run(qid))
    while not fake.received:
        await asyncio.sleep(0.05)
    await asyncio.to_thread(delete, admin, "openai")
    await run

    with session_scope() as s:
        q = s.get(Query, qid)
        item = s.get(ChatItem, q.assistant_item_id)
    error = next(seg for seg in item.segments if seg["type"] == "error")
    assert q.state == "failed"
    assert "OpenAI credential was removed by an administrator" in error["message"]
    assert "Pick another model" in error["message"]
    assert [r.path for r in fake.received] == ["/v1/chat/completions"]  # no code-generation call went out
