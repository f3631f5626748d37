"""Account security (issue 21), attacked through the API as a client would: keys, session binding, invitation
quota, registration, email change, the last-admin guard, login throttling, user text.

Each test failed on the code before its fix (see docs/security.md).
"""

from __future__ import annotations

import subprocess
import sys
import threading
import uuid
from datetime import timedelta

import jwt
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from chat3d.api import create_api
from chat3d.db.models import DeploymentKey, Role, User, UserSession, utcnow
from chat3d.domain import keys
from chat3d.domain.sessions import ALGORITHM, tokens_still_valid
from chat3d.settings import DEFAULT_JWT_SECRET, REPO_ROOT, get_settings, reset_settings_cache
from tests.conftest import PASSWORD


def _login(api: TestClient, email: str, password: str = PASSWORD, **kw) -> str:
    resp = api.post("/api/auth/login", json={"email": email, "password": password}, **kw)
    assert resp.status_code == 200, resp.text
    api.cookies.clear()
    return resp.json()["token"]


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _resign(token: str, secret: str, **changes) -> str:
    claims = jwt.decode(token, options={"verify_signature": False})
    return jwt.encode({**claims, **changes}, secret, algorithm=ALGORITHM)


# --- keys: one rule ---------------------------------------------------------------------------------------------


def test_without_jwt_secret_a_deployment_key_is_generated_stored_and_shared(accounts_env, db, make_user, monkeypatch) -> None:
    """Outside `test`, no JWT_SECRET means a generated key kept in the database, the same in every process; a
    token signed with the well-known example value is refused (before: that value was the default key)."""
    monkeypatch.setenv("CHAT3D_ENV", "development")
    monkeypatch.setenv("BCRYPT_ROUNDS", "12")
    monkeypatch.delenv("JWT_SECRET", raising=False)
    reset_settings_cache()
    keys.forget_cached_keys()
    make_user("keys@example.com")
    api = TestClient(create_api())
    token = _login(api, "keys@example.com")
    assert api.get("/api/auth/me", headers=_bearer(token)).status_code == 200
    forged = _resign(token, DEFAULT_JWT_SECRET)
    assert api.get("/api/auth/me", headers=_bearer(forged)).status_code == 401
    db.expire_all()
    stored = db.get(DeploymentKey, keys.JWT)
    assert stored is not None and len(stored.value) >= 48 and stored.value != DEFAULT_JWT_SECRET
    # Another process of the deployment (same DATABASE_URL, no JWT_SECRET) reads the same key.
    other = subprocess.run(
        [sys.executable, "-c", "from chat3d.domain import keys; print(keys.key(keys.JWT))"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=True,
        env={**__import__("os").environ, "CHAT3D_ENV": "development", "BCRYPT_ROUNDS": "12"},
    )
    assert other.stdout.strip() == stored.value
    # The waitlist link key is a separate key, generated the same way.
    assert keys.key(keys.LINKS) not in (stored.value, DEFAULT_JWT_SECRET)
    keys.forget_cached_keys()


def test_the_well_known_key_is_refused_outside_test(monkeypatch) -> None:
    from pydantic import ValidationError

    from chat3d.settings import Settings

    for env in ("development", "production"):
        monkeypatch.setenv("CHAT3D_ENV", env)
        monkeypatch.setenv("JWT_SECRET", DEFAULT_JWT_SECRET)
        with pytest.raises(ValidationError):
            Settings(_env_file=None)


# --- 3: tokens bound to their session row -----------------------------------------------------------------------


def test_a_token_re_signed_for_the_admins_id_is_refused(api, make_user) -> None:
    """An attacker who can sign (here: the test key) keeps their own valid jti and puts the admin's id in `sub`."""
    admin = make_user("admin@example.com", role=Role.admin.value)
    make_user("mallory@example.com")
    own = _login(api, "mallory@example.com")
    forged = _resign(own, get_settings().jwt_secret, sub=str(admin.id), role="admin")
    assert api.get("/api/admin/users", headers=_bearer(forged)).status_code == 401
    assert api.get("/api/auth/me", headers=_bearer(forged)).status_code == 401
    assert api.get("/api/auth/me", headers=_bearer(own)).json()["email"] == "mallory@example.com"


def test_a_session_past_its_rows_expiry_is_refused(api, db, make_user) -> None:
    """The row's `expires_at` counts even when the JWT's own `exp` is later (e.g. a session shortened server-side)."""
    make_user("short@example.com")
    token = _login(api, "short@example.com")
    row = db.exec(select(UserSession)).one()
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.add(row)
    db.commit()
    assert api.get("/api/auth/me", headers=_bearer(token)).status_code == 401
    uid = db.exec(select(User.id)).one()
    assert tokens_still_valid(db, [(token, uid)]) == [False]


def test_with_redis_a_jti_without_a_row_is_refused(accounts_env, make_user, redis_url, monkeypatch, db) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    reset_settings_cache()
    api = TestClient(create_api())
    user = make_user("nojti@example.com")
    own = _login(api, "nojti@example.com")
    forged = _resign(own, get_settings().jwt_secret, jti=uuid.uuid4().hex)
    assert api.get("/api/auth/me", headers=_bearer(forged)).status_code == 401
    assert tokens_still_valid(db, [(forged, user.id), (own, user.id)]) == [False, True]


# --- 11: the last-admin guard holds on SQLite too ---------------------------------------------------------------


def _demote_each_other(rounds: int = 12) -> None:
    """Two admins demote each other at the same moment, `rounds` times: exactly one admin must remain each time."""
    from chat3d.db.engine import get_engine

    with Session(get_engine(), expire_on_commit=False) as db:
        a, b = db.exec(select(User).where(User.role == Role.admin.value).order_by(User.email)).all()
    app = create_api()
    tokens = {u.id: _login(TestClient(app), u.email) for u in (a, b)}
    for _ in range(rounds):
        with Session(get_engine()) as db:
            for u in db.exec(select(User)).all():
                u.role = Role.admin.value
                db.add(u)
            db.commit()
        barrier = threading.Barrier(2)
        codes: list[int] = []

        def demote(actor: User, target: User, barrier: threading.Barrier = barrier, codes: list[int] = codes) -> None:
            with TestClient(app, raise_server_exceptions=False) as client:
                barrier.wait(30)
                codes.append(client.patch(f"/api/admin/users/{target.id}/role", json={"role": "user"},
                                          headers=_bearer(tokens[actor.id])).status_code)

        threads = [threading.Thread(target=demote, args=pair) for pair in ((a, b), (b, a))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        with Session(get_engine()) as db:
            admins = db.exec(select(User).where(User.role == Role.admin.value)).all()
        assert len(admins) == 1, f"admins left: {len(admins)}, answers {codes}"
        assert sorted(codes) in ([200, 401], [200, 403], [200, 409]), codes


def test_two_admins_demoting_each_other_at_once_on_sqlite_leave_one(accounts_env, tmp_path, monkeypatch) -> None:
    """SQLite ignores FOR UPDATE; before, both demotions passed the guard and the deployment had no admin left."""
    from chat3d.db.engine import engine_for, get_engine
    from chat3d.db.migrate import upgrade_to_head
    from chat3d.domain.passwords import hash_password

    url = f"sqlite:///{tmp_path / 'admins.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    reset_settings_cache()
    upgrade_to_head(url)
    try:
        with Session(get_engine(), expire_on_commit=False) as db:
            db.add_all([User(email=f"{n}@example.com", password_hash=hash_password(PASSWORD), role=Role.admin.value)
                        for n in "ab"])
            db.commit()
        _demote_each_other()
    finally:
        engine_for(url).dispose()


def test_two_admins_demoting_each_other_at_once_on_postgres_leave_one(make_user) -> None:
    """Before, one of the two answered 500 here: both held their target's row FOR UPDATE, then waited on the
    other's for the admin count or the audit row's foreign key (deadlock)."""
    make_user("a@example.com", role=Role.admin.value)
    make_user("b@example.com", role=Role.admin.value)
    _demote_each_other()


# --- 9: an email change cancels pending links and ends other sessions -------------------------------------------


def _mail_token(db: Session, template: str, to: str | None = None) -> str:
    from urllib.parse import parse_qs, urlsplit

    from chat3d.db.models import OutboxMessage

    db.expire_all()
    query = select(OutboxMessage).where(OutboxMessage.template == template)
    if to:
        query = query.where(OutboxMessage.to_email == to)
    mail = db.exec(query.order_by(OutboxMessage.created_at.desc())).first()
    assert mail is not None, template
    return parse_qs(urlsplit(mail.context["link"]).query)["token"][0]


def test_a_reset_link_to_the_old_address_dies_with_an_email_change(api, db, make_user) -> None:
    make_user("old@example.com")
    here, elsewhere = _login(api, "old@example.com"), _login(api, "old@example.com")
    # Whoever reads the old mailbox asks for a reset link there...
    assert api.post("/api/auth/password-reset/request", json={"email": "old@example.com"}).status_code == 202
    reset = _mail_token(db, "password_reset")
    # ...then the owner moves to a new address and confirms from this session.
    assert api.post("/api/profile/change-email/request", headers=_bearer(here),
                    json={"newEmail": "new@example.com", "currentPassword": PASSWORD}).status_code == 202
    done = api.post("/api/profile/actions/confirm", headers=_bearer(here),
                    json={"token": _mail_token(db, "email_change_confirm")})
    assert done.status_code == 200, done.text
    used = api.post("/api/auth/password-reset/confirm", json={"token": reset, "newPassword": "a brand new passphrase"})
    assert used.status_code == 410 and used.json()["detail"]["reason"] == "cancelled"
    assert api.get("/api/auth/me", headers=_bearer(elsewhere)).status_code == 401
    assert api.get("/api/auth/me", headers=_bearer(here)).json()["email"] == "new@example.com"


# --- 15: control characters out of user text; addresses checked by email-validator -------------------------------


HOSTILE_NAME = "Eve\r\nBcc: all@example.com\x1b[31m\u202egnp.exe\x00"


def test_control_characters_never_reach_stored_names(api, db, make_user) -> None:
    resp = api.post("/api/auth/register", json={"email": "eve@example.com", "password": PASSWORD,
                                                 "displayName": HOSTILE_NAME.replace("\x00", "")})
    assert resp.status_code == 202, resp.text
    token = _mail_token(db, "registration_confirm", "eve@example.com")
    assert api.post("/api/profile/actions/confirm", json={"token": token}).status_code == 200
    db.expire_all()
    stored = db.exec(select(User).where(User.email == "eve@example.com")).one().display_name
    assert stored == "Eve Bcc: all@example.com[31mgnp.exe"
    make_user("ann@example.com")
    token = _login(api, "ann@example.com")
    patched = api.patch("/api/profile", headers=_bearer(token), json={"displayName": "Ann\u2028\x07\u2066x\t y"})
    assert patched.status_code == 200 and patched.json()["displayName"] == "Ann x y"


@pytest.mark.parametrize("address", ["a<b>@example.com", "Jane <jane@example.com>", "x@example.com>",
                                     '"quoted"@example.com', "a@localhost.local", "a\u202e@example.com"])
def test_addresses_with_brackets_or_controls_are_refused(api, make_user, address) -> None:
    register = api.post("/api/auth/register", json={"email": address, "password": PASSWORD})
    assert register.status_code == 400 and "valid email" in register.json()["error"]
    make_user("inviter@example.com")
    token = _login(api, "inviter@example.com")
    invite = api.post("/api/invitations", headers=_bearer(token), json={"emails": [address]})
    assert invite.status_code == 400, invite.text


# --- 8: registration neither reveals accounts nor trusts an unconfirmed address ----------------------------------


def test_registering_a_taken_address_answers_like_a_free_one_and_tells_the_owner(api, db, make_user) -> None:
    from chat3d.db.models import OutboxMessage

    make_user("owner@example.com")
    taken = api.post("/api/auth/register", json={"email": "owner@example.com", "password": "another long passphrase",
                                                  "displayName": "Visit evil.example now"})
    free = api.post("/api/auth/register", json={"email": "fresh@example.com", "password": PASSWORD})
    assert taken.status_code == free.status_code == 202
    assert taken.json() == free.json() and "set-cookie" not in taken.headers and "set-cookie" not in free.headers
    db.expire_all()
    [notice] = db.exec(select(OutboxMessage).where(OutboxMessage.to_email == "owner@example.com")).all()
    assert notice.template == "registration_attempt" and "evil" not in notice.subject
    # The owner's password still works; the attempt's does not.
    _login(api, "owner@example.com")
    assert api.post("/api/auth/login", json={"email": "owner@example.com",
                                             "password": "another long passphrase"}).status_code == 401


def test_a_new_account_works_only_after_its_address_is_confirmed(api, db) -> None:
    assert api.post("/api/auth/register", json={"email": "new@example.com", "password": PASSWORD,
                                                 "displayName": "Nina"}).status_code == 202
    link = _mail_token(db, "registration_confirm", "new@example.com")
    # Someone else registers the same (unconfirmed) address with their password: the owner's link still works.
    assert api.post("/api/auth/register", json={"email": "new@example.com",
                                                 "password": "squatter long passphrase"}).status_code == 202
    assert api.post("/api/auth/login", json={"email": "new@example.com", "password": PASSWORD}).status_code == 401
    assert api.get("/api/profile/actions/preview", params={"token": link}).json()["label"] == "Confirm your email address"
    done = api.post("/api/profile/actions/confirm", json={"token": link})
    assert done.status_code == 200, done.text
    me = api.get("/api/auth/me", headers=_bearer(_login(api, "new@example.com"))).json()
    assert (me["status"], me["displayName"]) == ("active", "Nina")
    assert api.post("/api/auth/login", json={"email": "new@example.com",
                                             "password": "squatter long passphrase"}).status_code == 401
    # The squatter's link is dead once the address is confirmed.
    squat = _mail_token(db, "registration_confirm", "new@example.com")
    assert api.post("/api/profile/actions/confirm", json={"token": squat}).status_code in (409, 410)


def test_closed_deployments_can_turn_verification_off(api, monkeypatch) -> None:
    monkeypatch.setenv("REGISTRATION_EMAIL_VERIFICATION", "false")
    reset_settings_cache()
    resp = api.post("/api/auth/register", json={"email": "staff@example.com", "password": PASSWORD})
    assert resp.status_code == 201 and resp.json()["user"]["status"] == "active"


# --- 5: invitations are not a mail relay --------------------------------------------------------------------------


def _invite(api: TestClient, token: str, *emails: str):
    return api.post("/api/invitations", headers=_bearer(token), json={"emails": list(emails)})


def _a_day_passes(db: Session) -> None:
    from sqlmodel import update

    from chat3d.db.models import InvitationSend

    db.exec(update(InvitationSend).values(sent_at=InvitationSend.sent_at - timedelta(hours=25)))
    db.commit()


def test_revoke_and_re_invite_cannot_exceed_the_quota(api, db, make_user) -> None:
    """Before, revoking freed the slot and re-inviting mailed again, without end. Now each mail counts for 30 days."""
    from chat3d.db.models import OutboxMessage

    make_user("relay@example.com")
    token = _login(api, "relay@example.com")
    sent = 0
    for _ in range(6):
        resp = _invite(api, token, "target@example.com")
        if resp.status_code != 201:
            break
        sent += 1
        inv = resp.json()["items"][0]["id"]
        assert api.delete(f"/api/invitations/{inv}", headers=_bearer(token)).status_code == 204
        _a_day_passes(db)
    assert sent == 3  # the default quota of a new install
    assert resp.status_code == 409 and "0 left, next on" in resp.json()["error"]
    page = api.get("/api/invitations", headers=_bearer(token)).json()
    assert (page["used"], page["quota"]) == (3, 3) and page["nextAt"]
    db.expire_all()
    mails = db.exec(select(OutboxMessage).where(OutboxMessage.to_email == "target@example.com")).all()
    assert len(mails) == 3


def test_one_invitation_mail_per_address_per_day_across_inviters(api, db, make_user) -> None:
    make_user("one@example.com")
    make_user("two@example.com")
    first, second = _login(api, "one@example.com"), _login(api, "two@example.com")
    assert _invite(api, first, "popular@example.com").status_code == 201
    again = _invite(api, second, "popular@example.com")
    assert again.status_code == 409 and "last 24 hours" in again.json()["error"]
    _a_day_passes(db)
    assert _invite(api, second, "popular@example.com").status_code == 201


def test_the_inviters_text_stays_out_of_the_subject_and_is_never_a_link(api, db, make_user) -> None:
    from chat3d.db.models import OutboxMessage
    from chat3d.mail.render import render_mail

    make_user("spam@example.com", display_name="WIN! Visit https://evil.example/prize now")
    token = _login(api, "spam@example.com")
    assert _invite(api, token, "victim@example.com").status_code == 201
    db.expire_all()
    mail = db.exec(select(OutboxMessage).where(OutboxMessage.to_email == "victim@example.com")).one()
    assert mail.subject == "You are invited to Chat3D"
    rendered = render_mail(mail.template, mail.context)
    assert "WIN!" in rendered.text  # the name is still there, for the reader...
    assert all("evil" not in link for link in rendered.links)  # ...but nothing a client turns into a link
    assert "evil.example" not in rendered.text and "evil.example" not in rendered.html


# --- 12: login throttling per IP and per account; the owner's known clients stay in ------------------------------


@pytest.fixture
def tight_login_budgets(accounts_env, monkeypatch):
    monkeypatch.setenv("RATE_LIMIT_LOGIN_IP", "5/10 minutes")
    monkeypatch.setenv("RATE_LIMIT_LOGIN_ACCOUNT", "4/10 minutes")
    reset_settings_cache()


def _from(ip: str) -> TestClient:
    return TestClient(create_api(), client=(ip, 40000))


def test_many_ips_guessing_one_account_lock_out_strangers_but_not_the_owner(tight_login_budgets, make_user) -> None:
    """Before, only (IP, email) was limited: a botnet had 10 guesses a minute per IP against one account."""
    make_user("target@example.com")
    owner = _from("10.0.0.1")
    _login(owner, "target@example.com")  # an earlier session from this IP
    laptop = _from("10.0.0.2")
    laptop.post("/api/auth/login", json={"email": "target@example.com", "password": PASSWORD})
    device = laptop.cookies.get("chat3d_device")
    assert device
    answers = [_from(f"203.0.113.{i}").post("/api/auth/login", json={"email": "target@example.com",
                                                                       "password": f"guess number {i}"}).status_code
               for i in range(8)]
    assert answers[:4] == [401] * 4 and set(answers[4:]) == {429}
    # A stranger with the right password waits too...
    assert _from("198.51.100.7").post("/api/auth/login", json={"email": "target@example.com",
                                                                "password": PASSWORD}).status_code == 429
    # ...the owner does not: from an IP of one of their sessions, or with the device cookie from a new network.
    assert owner.post("/api/auth/login", json={"email": "target@example.com", "password": PASSWORD}).status_code == 200
    travelling = _from("192.0.2.50")
    travelling.cookies.set("chat3d_device", device, path="/api/auth/login")
    assert travelling.post("/api/auth/login", json={"email": "target@example.com", "password": PASSWORD}).status_code == 200
    # A forged device cookie (another account's id, made-up signature) counts for nothing.
    forged = _from("192.0.2.51")
    forged.cookies.set("chat3d_device", device.rsplit(".", 1)[0] + ".0" * 16, path="/api/auth/login")
    assert forged.post("/api/auth/login", json={"email": "target@example.com", "password": PASSWORD}).status_code == 429


def test_one_ip_guessing_many_accounts_runs_out(tight_login_budgets, make_user) -> None:
    make_user("mine@example.com")
    attacker = _from("203.0.113.99")
    answers = [attacker.post("/api/auth/login", json={"email": f"user{i}@example.com", "password": "guess guess"}
                             ).status_code for i in range(7)]
    assert answers[:5] == [401] * 5 and set(answers[5:]) == {429}
    # Another person behind the same address waits too, unless their browser signed in to their account before.
    mine = _from("203.0.113.99")
    assert mine.post("/api/auth/login", json={"email": "mine@example.com", "password": PASSWORD}).status_code == 429
    ok = _from("10.9.9.9")
    ok.post("/api/auth/login", json={"email": "mine@example.com", "password": PASSWORD})
    mine.cookies.set("chat3d_device", ok.cookies.get("chat3d_device"), path="/api/auth/login")
    assert mine.post("/api/auth/login", json={"email": "mine@example.com", "password": PASSWORD}).status_code == 200


def test_an_invitation_link_beats_a_squatters_unconfirmed_registration(api, db, make_user) -> None:
    """Someone registers the invitee's address first (unconfirmed); the invitee's registration link still works
    and the squatter's confirmation link dies."""
    make_user("host@example.com")
    host = _login(api, "host@example.com")
    assert api.post("/api/auth/register", json={"email": "invitee@example.com",
                                                 "password": "squatter long passphrase"}).status_code == 202
    squat = _mail_token(db, "registration_confirm", "invitee@example.com")
    # The unconfirmed registration does not count as an account: the invitation mail is sent.
    assert _invite(api, host, "invitee@example.com").status_code == 201
    from urllib.parse import parse_qs, urlsplit

    from chat3d.db.models import OutboxMessage

    invitation = db.exec(select(OutboxMessage).where(OutboxMessage.template == "invitation")).one()
    raw = parse_qs(urlsplit(invitation.context["register_url"]).query)["token"][0]
    ok = api.post("/api/auth/register", json={"email": "invitee@example.com", "password": PASSWORD,
                                               "registrationToken": raw})
    assert ok.status_code == 201, ok.text
    api.cookies.clear()
    assert api.post("/api/profile/actions/confirm", json={"token": squat}).status_code in (409, 410)
    _login(api, "invitee@example.com")
    assert api.post("/api/auth/login", json={"email": "invitee@example.com",
                                             "password": "squatter long passphrase"}).status_code == 401


def test_an_unconfirmed_registration_cannot_block_an_email_change(api, db, make_user) -> None:
    make_user("mover@example.com")
    token = _login(api, "mover@example.com")
    assert api.post("/api/auth/register", json={"email": "wanted@example.com",
                                                 "password": "squatter long passphrase"}).status_code == 202
    asked = api.post("/api/profile/change-email/request", headers=_bearer(token),
                     json={"newEmail": "wanted@example.com", "currentPassword": PASSWORD})
    assert asked.status_code == 202, asked.text
    done = api.post("/api/profile/actions/confirm", headers=_bearer(token),
                    json={"token": _mail_token(db, "email_change_confirm")})
    assert done.status_code == 200, done.text
    assert api.get("/api/auth/me", headers=_bearer(token)).json()["email"] == "wanted@example.com"
