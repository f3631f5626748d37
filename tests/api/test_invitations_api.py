"""/api/invitations: list with used/quota, all-or-nothing POST, DELETE revokes."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import PASSWORD


def test_invite_list_and_revoke(api: TestClient, make_user) -> None:
    make_user("host@example.com")
    token = api.post("/api/auth/login", json={"email": "host@example.com", "password": PASSWORD}).json()["token"]
    api.cookies.clear()
    h = {"Authorization": f"Bearer {token}"}
    created = api.post("/api/invitations", json={"emails": ["a@example.com", "b@example.com"]}, headers=h)
    assert created.status_code == 201 and (created.json()["used"], created.json()["quota"]) == (2, 3)
    refused = api.post("/api/invitations", json={"emails": ["c@example.com", "a@example.com"]}, headers=h)
    assert refused.status_code == 409 and "error" in refused.json()
    page = api.get("/api/invitations", headers=h).json()
    assert (page["total"], page["used"], page["quota"]) == (2, 2, 3) and page["nextAt"]
    assert {i["status"] for i in page["items"]} == {"registration_sent"}
    first = page["items"][0]["id"]
    assert api.delete(f"/api/invitations/{first}", headers=h).status_code == 204
    assert api.delete(f"/api/invitations/{first}", headers=h).status_code == 409
    after = api.get("/api/invitations", headers=h).json()
    # Revoking gives no mail back: the quota counts mails sent in 30 days.
    assert after["used"] == 2 and "revoked" in {i["status"] for i in after["items"]}
    assert api.post("/api/invitations", json={"emails": []}, headers=h).status_code == 400
