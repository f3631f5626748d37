"""/api/admin/models over HTTP: a key goes in and never comes out (responses, audit log, data export),
the connection test reaches the provider's host through its SDK, and users see only the enabled models."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from chat3d.db.models import FileKind, StoredFile
from chat3d.settings import reset_settings_cache
from tests.conftest import PASSWORD
from tests.llm.llm_fakes import FakeLLMServer, serving

KEY = "sk-proj-abcdefghijklmnop1234WXYZ"


@pytest.fixture(scope="module")
def fake_llm():
    with serving(FakeLLMServer()) as fake:
        yield fake


@pytest.fixture
def no_model_env(accounts_env, monkeypatch):
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "XAI_API_KEY", "OLLAMA_BASE_URL", "OPENAI_BASE_URL",
                 "DEFAULT_CONVERSATION_MODEL", "DEFAULT_CODEGEN_MODEL"):
        monkeypatch.setenv(name, "")
    monkeypatch.delenv("LLM_MODELS_FILE", raising=False)
    reset_settings_cache()


def _login(api: TestClient, email: str) -> dict[str, str]:
    resp = api.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert resp.status_code == 200, resp.text
    api.cookies.clear()
    return {"Authorization": f"Bearer {resp.json()['token']}"}


def test_a_key_is_added_tested_and_never_returned(api, no_model_env, make_user, db: Session, fake_llm) -> None:
    fake_llm.reset()
    fake_llm.accepted_keys = {KEY}
    make_user("root@example.com", role="admin")
    make_user("maker@example.com")
    h = _login(api, "root@example.com")
    user_h = _login(api, "maker@example.com")

    resp = api.put("/api/admin/models/credentials/openai", json={"apiKey": KEY, "baseUrl": f"{fake_llm.url}/v1"}, headers=h)
    assert resp.status_code == 200, resp.text
    openai = next(p for p in resp.json()["providers"] if p["provider"] == "openai")
    assert (openai["source"], openai["fingerprint"]) == ("console", "…WXYZ")
    assert KEY not in resp.text and KEY not in api.get("/api/admin/models", headers=h).text
    assert KEY not in api.get("/api/admin/audit-log", params={"action": "model."}, headers=h).text

    test = api.post("/api/admin/models/credentials/openai/test", headers=h)
    assert test.status_code == 200 and "OpenAI answered" in test.json()["message"]
    assert fake_llm.received[-1].headers["authorization"] == f"Bearer {KEY}"

    listed = api.get("/api/llm/models", headers=user_h).json()
    assert {"GPT-4.1", "GPT-4.1 mini"} <= {m["label"] for m in listed["items"]}
    assert api.patch("/api/admin/models/gpt-4.1", json={"enabled": False}, headers=h).status_code == 200
    assert api.patch("/api/admin/models/gpt-4.1-mini", json={"defaultFor": "conversation"}, headers=h).status_code == 200
    listed = api.get("/api/llm/models", headers=user_h).json()
    assert "gpt-4.1" not in {m["id"] for m in listed["items"]}
    assert listed["defaultConversationModelId"] == "gpt-4.1-mini"

    actions = [e["action"] for e in api.get("/api/admin/audit-log", params={"action": "model."}, headers=h).json()["items"]]
    assert sorted(actions) == ["model.credential.create", "model.default", "model.disable"]
    assert api.patch("/api/admin/models/gpt-4.1", json={"enabled": False}, headers=user_h).status_code == 403


def test_a_refused_key_gets_the_reason_and_bad_input_a_clear_400(api, no_model_env, make_user, fake_llm) -> None:
    fake_llm.reset()
    fake_llm.accepted_keys = {"some-other-key-000000"}
    make_user("root@example.com", role="admin")
    h = _login(api, "root@example.com")
    api.put("/api/admin/models/credentials/xai", json={"apiKey": KEY, "baseUrl": f"{fake_llm.url}/v1"}, headers=h)

    refused = api.post("/api/admin/models/credentials/xai/test", headers=h)
    assert refused.status_code == 400 and "refused (HTTP 401)" in refused.text and KEY not in refused.text
    bad = api.put("/api/admin/models/credentials/ollama", json={"baseUrl": "file:///etc/passwd"}, headers=h)
    assert bad.status_code == 400 and "http://" in bad.text
    assert api.put("/api/admin/models/credentials/mistral", json={"apiKey": "x"}, headers=h).status_code == 400
    assert api.delete("/api/admin/models/credentials/anthropic", headers=h).status_code == 404


def test_an_environment_key_is_shown_read_only(api, no_model_env, make_user, monkeypatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-from-env-000000000000")
    monkeypatch.setenv("DEFAULT_CODEGEN_MODEL", "offline-templates")
    reset_settings_cache()
    make_user("root@example.com", role="admin")
    h = _login(api, "root@example.com")

    view = api.get("/api/admin/models", headers=h)
    anthropic = next(p for p in view.json()["providers"] if p["provider"] == "anthropic")
    assert anthropic["source"] == "environment" and "sk-ant-from-env" not in view.text
    assert view.json()["defaultsSource"]["codegen"] == "environment"
    resp = api.put("/api/admin/models/credentials/anthropic", json={"apiKey": KEY}, headers=h)
    assert resp.status_code == 409 and "set by the environment" in resp.text


def test_the_admins_data_export_never_holds_a_key(api, no_model_env, make_user, db: Session) -> None:
    from chat3d.domain import account_actions as aa
    from chat3d.domain import files
    from chat3d.domain.export import run_pending_exports
    from tests.domain.test_account_actions import token_from

    admin = make_user("root@example.com", role="admin")
    h = _login(api, "root@example.com")
    assert api.put("/api/admin/models/credentials/openai", json={"apiKey": KEY}, headers=h).status_code == 200
    aa.request_data_export(db, admin)
    db.commit()
    aa.confirm_action(db, token_from(db, "data_export_confirm"))
    db.commit()
    assert run_pending_exports() == 1
    db.expire_all()
    export = db.exec(select(StoredFile).where(StoredFile.kind == FileKind.export.value)).one()
    zf = zipfile.ZipFile(io.BytesIO(files.absolute_path(export).read_bytes()))
    blob = b"".join(zf.read(n) for n in zf.namelist())
    assert json.loads(zf.read("profile.json"))["email"] == "root@example.com"
    assert KEY.encode() not in blob and b"WXYZ" not in blob
