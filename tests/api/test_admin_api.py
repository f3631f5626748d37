"""/api/admin: non-admins get 403 on every route (from the route table), actions work and are all audited."""

from __future__ import annotations

import re
import uuid

from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from chat3d.api import create_api
from chat3d.db.models import AdminAuditLog, Notification, User, UserSession
from tests.conftest import PASSWORD

ADMIN_ROUTES = sorted(
    (method, route.path)
    for route in iter_route_contexts(create_api().routes)
    if route.path.startswith("/api/admin/")
    for method in route.methods or ()
)


def _login(api: TestClient, email: str) -> dict[str, str]:
    resp = api.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert resp.status_code == 200, resp.text
    api.cookies.clear()
    return {"Authorization": f"Bearer {resp.json()['token']}"}


def test_every_admin_route_refuses_a_signed_in_non_admin(api: TestClient, make_user) -> None:
    assert len(ADMIN_ROUTES) >= 15
    make_user("plain@example.com")
    headers = _login(api, "plain@example.com")
    wrong = []
    for method, path in ADMIN_ROUTES:
        resp = api.request(method, re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path), headers=headers, json={})
        if resp.status_code != 403 or "error" not in resp.json():
            wrong.append(f"{method} {path}: {resp.status_code}")
    assert wrong == []


def test_admin_actions_work_and_each_is_in_the_audit_log(api: TestClient, db: Session, make_user) -> None:
    admin = make_user("root@example.com", role="admin")
    target = make_user("target@example.com")
    h = _login(api, "root@example.com")
    target_h = _login(api, "target@example.com")

    users = api.get("/api/admin/users", params={"q": "TARGET", "limit": 5}, headers=h).json()
    assert users["total"] == 1 and users["items"][0]["email"] == "target@example.com"

    assert api.patch(f"/api/admin/users/{target.id}/deactivate", json={"reason": "spam"}, headers=h).status_code == 200
    db.expire_all()
    suspended = db.get(User, target.id)
    assert (suspended.status, suspended.deactivation_reason, suspended.deactivated_by, suspended.deactivated_until) == (
        "deactivated", "spam", admin.id, None)
    assert api.get("/api/auth/me", headers=target_h).status_code == 401
    assert all(s.revoked_at for s in db.exec(select(UserSession).where(UserSession.user_id == target.id)).all())
    event = db.exec(select(Notification).where(Notification.user_id == target.id,
                                               Notification.event_type == "account.status.changed")).one()
    assert (event.event_type, event.payload["status"]) == ("account.status.changed", "deactivated")
    assert api.patch(f"/api/admin/users/{admin.id}/deactivate", json={"reason": "x"}, headers=h).status_code == 403

    assert api.patch(f"/api/admin/users/{target.id}/activate", headers=h).json()["status"] == "active"
    assert api.patch(f"/api/admin/users/{target.id}/role", json={"role": "admin"}, headers=h).json()["role"] == "admin"
    assert api.patch(f"/api/admin/users/{target.id}/role", json={"role": "user"}, headers=h).status_code == 200
    assert api.patch(f"/api/admin/users/{admin.id}/role", json={"role": "user"}, headers=h).status_code == 409  # last admin

    bad = api.patch("/api/admin/settings", json={"invitationQuotaPerUser": -1}, headers=h)
    assert bad.status_code == 400 and "error" in bad.json()
    for wrong in ({"invitationQuotaPerUser": "5"}, {"invitationQuotaPerUser": 2.5}, {"waitlistEnabled": "yes"}, {"nope": 1}):
        assert api.patch("/api/admin/settings", json=wrong, headers=h).status_code == 400, wrong
    updated = api.patch("/api/admin/settings", json={"waitlistEnabled": True, "invitationQuotaPerUser": 2}, headers=h).json()
    assert (updated["waitlistEnabled"], updated["invitationQuotaPerUser"]) == (True, 2)
    assert api.get("/api/public/config").json()["registrationOpen"] is False
    assert db.exec(select(Notification).where(Notification.user_id == admin.id, Notification.event_type == "admin.settings.updated")).first()

    api.post("/api/waitlist/join", json={"email": "w@example.com"})
    from chat3d.db.models import WaitlistEntry
    entry = db.exec(select(WaitlistEntry)).one()
    assert api.patch(f"/api/admin/waitlist/{entry.id}/reject", headers=h).json()["status"] == "rejected"
    assert api.post("/api/admin/waitlist/bulk-approve", json={"ids": [str(entry.id)]}, headers=h).json()["approved"] == []
    assert api.post("/api/invitations", json={"emails": ["guest@example.com"]}, headers=h).status_code == 201

    log = api.get("/api/admin/audit-log", params={"limit": 100}, headers=h).json()
    actions = [i["action"] for i in log["items"]]
    for expected in ("user.deactivate", "user.activate", "user.role", "settings.update", "waitlist.reject",
                     "waitlist.bulk_approve", "invitation.create"):
        assert expected in actions, expected
    assert actions.count("user.role") == 2 and log["total"] == len(actions)
    first = log["items"][-1]
    assert first["actorEmail"] == "root@example.com" and first["ip"] and first["targetId"] == str(target.id)
    only = api.get("/api/admin/audit-log", params={"action": "user."}, headers=h).json()
    assert {i["action"] for i in only["items"]} == {"user.deactivate", "user.activate", "user.role"}
    assert len(db.exec(select(AdminAuditLog)).all()) == len(actions)


def test_metrics_and_lists_answer_items_and_total(api: TestClient, make_user) -> None:
    make_user("root@example.com", role="admin")
    make_user("gone@example.com", status="deactivated")
    h = _login(api, "root@example.com")
    m = api.get("/api/admin/metrics", headers=h).json()
    assert m["users"]["active"] == 1 and m["users"]["deactivated"] == 1
    assert m["queriesToday"]["total"] == 0 and "costUsd" in m["queries7d"] and "pending_admin_approval" in m["waitlist"]
    for path in ("/api/admin/users", "/api/admin/waitlist", "/api/admin/audit-log", "/api/admin/security-events",
                 "/api/admin/outbox"):
        body = api.get(path, params={"limit": 1, "offset": 0}, headers=h).json()
        assert set(body) == {"items", "total"}, path
    assert api.get("/api/admin/waitlist", params={"status": "nope"}, headers=h).status_code == 400
