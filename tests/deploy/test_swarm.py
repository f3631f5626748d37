"""Chat3D on a single-node Docker Swarm from docker-compose.yml (deploy/swarm/deploy.sh), issue 22 item 4.

Two app replicas behind the proxy (the only published port), two workers, two render replicas reached by DNS
(`endpoint_mode: dnsrr`), secrets from Swarm. A load of prompts goes through the proxy; one render replica is
removed in the middle: every query completes or fails with a retry offer, none stays running, none is lost, and
the remaining replica serves the next prompt. Then `docker stack rm` leaves no containers, networks or volumes.

The swarm is left as found: initialised here (and left again) only when this node was not in one. Traffic goes
only to the proxy this test published on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from tests.support.containers import REPO_ROOT, DockerHost, docker

SECRET_NAMES = ("chat3d_jwt_secret", "chat3d_render_service_token")
ADMIN_EMAIL = "swarm-admin@example.com"
ADMIN_PASSWORD = "swarm-admin-password-1"
PROMPTS = [
    "a 20 mm cube", "a cylinder 12 mm in diameter and 30 mm tall", "a plate 40 x 20 x 3 mm", "a 15 mm sphere",
    "a washer 20 mm outside, 8 mm hole, 2 mm thick", "a 10 x 10 x 40 mm bar", "a cube of 25 mm", "a cylinder 30 mm wide and 5 mm tall",
]
TERMINAL = {"completed", "failed", "cancelled"}
# Part of `make test` (the images come from the session's build, shared with the compose test); it skips only when
# Docker cannot run here (tests/deploy/conftest.py says why).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _until(what: str, check, timeout: float, every: float = 2.0):
    """Call `check` until it returns something truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except (httpx.HTTPError, ValueError) as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(every)
    raise AssertionError(f"{what}: not within {timeout:.0f} s (last: {last!r})")


@dataclass
class Stack:
    name: str
    port: int
    created_secrets: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def running_tasks(self, service: str) -> list[str]:
        out = docker("service", "ps", f"{self.name}_{service}", "--filter", "desired-state=running",
                     "--format", "{{.ID}} {{.CurrentState}}", check=False, timeout=60).stdout.split("\n")
        return [line.split()[0] for line in out if line.strip().split(" ")[1:2] == ["Running"]]

    def resources_left(self) -> dict[str, list[str]]:
        label = f"label=com.docker.stack.namespace={self.name}"
        return {
            "containers": docker("ps", "-aq", "--filter", label, check=False).stdout.split(),
            "networks": docker("network", "ls", "-q", "--filter", label, check=False).stdout.split(),
            "services": docker("service", "ls", "-q", "--filter", label, check=False).stdout.split(),
        }


@pytest.fixture(scope="module")
def swarm(docker_host: DockerHost) -> Iterator[None]:
    state = docker("info", "--format", "{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}").stdout.split()
    joined_here = False
    # `swarm init` creates the docker_gwbridge network and `swarm leave` keeps it: removed again if it was new.
    had_gwbridge = docker("network", "inspect", "docker_gwbridge", check=False).returncode == 0
    if state[0] == "inactive":
        docker("swarm", "init", "--advertise-addr", "127.0.0.1", timeout=120)
        joined_here = True
    elif state != ["active", "true"]:
        pytest.fail(f"this node is in a swarm but not as a manager ({state}); the test needs a manager")
    try:
        yield
    finally:
        if joined_here:
            docker("swarm", "leave", "--force", check=False, timeout=120)
            if not had_gwbridge:
                docker("network", "rm", "docker_gwbridge", check=False, timeout=60)


@pytest.fixture(scope="module")
def stack(docker_host: DockerHost, swarm, request: pytest.FixtureRequest) -> Iterator[Stack]:
    # APP_IMAGE, RENDER_IMAGE, PROXY_IMAGE, POSTGRES_IMAGE and REDIS_IMAGE all set: those images, as given (built
    # already, e.g. by the compose test in the same run); otherwise built from this tree.
    given = {var: os.environ.get(var, "") for var in ("APP_IMAGE", "RENDER_IMAGE", "PROXY_IMAGE", "POSTGRES_IMAGE", "REDIS_IMAGE")}
    images = given if all(given.values()) else request.getfixturevalue("stack_images")
    st = Stack(name=f"c3dswarm{uuid.uuid4().hex[:8]}", port=_free_port())
    for name in SECRET_NAMES:
        if docker("secret", "inspect", name, check=False).returncode != 0:
            docker("secret", "create", name, "-", input=secrets.token_hex(32))
            st.created_secrets.append(name)
    env = dict(os.environ) | images | {
        "PORT": str(st.port), "APP_BASE_URL": st.url, "CORS_ALLOWED_ORIGINS": st.url,
        "POSTGRES_PASSWORD": secrets.token_hex(12), "APP_WORKERS": "1", "APP_REPLICAS": "2", "RENDER_REPLICAS": "2",
        "SEED_ADMIN_EMAIL": ADMIN_EMAIL, "SEED_ADMIN_PASSWORD": ADMIN_PASSWORD,
    }
    for name in ("JWT_SECRET", "RENDER_SERVICE_TOKEN", "RENDER_SANDBOX"):
        env.pop(name, None)  # deploy.sh: empty secrets (the Swarm secrets supply them), the minimal sandbox
    try:
        result = subprocess.run([str(REPO_ROOT / "deploy/swarm/deploy.sh"), st.name], cwd=REPO_ROOT, env=env,
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stdout + result.stderr
        yield st
    finally:
        docker("stack", "rm", st.name, check=False, timeout=120)
        try:
            _until("the stack's containers, networks and services are gone",
                   lambda: not any(st.resources_left().values()), timeout=180)
        finally:
            volumes = docker("volume", "ls", "-q", "--filter", f"label=com.docker.stack.namespace={st.name}",
                             check=False).stdout.split()
            for vol in volumes:
                docker("volume", "rm", vol, check=False, timeout=60)
            for name in st.created_secrets:
                docker("secret", "rm", name, check=False)


def _logs(st: Stack, service: str) -> str:
    out = docker("service", "logs", "--tail", "60", f"{st.name}_{service}", check=False, timeout=60)
    return (out.stdout + out.stderr)[-4000:]


def _status(client: httpx.Client, qid: str) -> dict:
    return client.get(f"/api/query/{qid}").json()


def test_render_replica_removed_under_load(stack: Stack) -> None:
    st = stack
    try:
        _until("two app, worker and render replicas running",
               lambda: all(len(st.running_tasks(svc)) == 2 for svc in ("app", "worker", "render")), timeout=600)
        ready = _until("/ready through the proxy, with the render replicas answering",
                       lambda: (r := httpx.get(f"{st.url}/ready", timeout=10)).status_code == 200
                       and r.json()["dependencies"]["render_service"]["status"] == "ok" and r.json(),
                       timeout=900, every=5)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n--- app:\n{_logs(st, 'app')}\n--- render:\n{_logs(st, 'render')}\n"
                             f"--- proxy:\n{_logs(st, 'proxy')}") from None
    assert ready["status"] == "ok", ready

    with httpx.Client(base_url=st.url, timeout=30) as client:
        login = client.post("/api/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
        assert login.status_code == 200, login.text
        client.cookies.clear()
        client.headers["Authorization"] = f"Bearer {login.json()['token']}"
        contexts = [client.post("/api/chat/contexts", json={}).json()["id"] for _ in range(4)]

        submitted: list[dict] = []
        scaled_down = False
        for i, prompt in enumerate(PROMPTS):
            body = {"contextId": contexts[i % len(contexts)], "prompt": prompt}

            def submit(body: dict = body):
                r = client.post("/api/query/submit", json=body)
                if r.status_code == 429:  # the per-user running-queries limit: wait for one to finish
                    return None
                assert r.status_code == 202, f"{r.status_code} {r.text[:500]}\n--- app:\n{_logs(st, 'app')}"
                return r.json()

            submitted.append(_until(f"submitting {prompt!r}", submit, timeout=300, every=1))
            if not scaled_down and i >= 2:
                # One replica goes away while queries are running (Swarm stops its task).
                docker("service", "scale", "--detach", f"{st.name}_render=1", timeout=120)
                scaled_down = True

        _until("one render replica left", lambda: len(st.running_tasks("render")) == 1, timeout=180)
        finals = {}
        for sub in submitted:
            finals[sub["queryId"]] = _until(f"query {sub['queryId']} finished",
                                            lambda sub=sub: (s := _status(client, sub["queryId"]))["state"] in TERMINAL and s,
                                            timeout=600)
        states = [f["state"] for f in finals.values()]
        assert len(finals) == len(PROMPTS) and "cancelled" not in states, finals
        for sub in submitted:
            if finals[sub["queryId"]]["state"] == "failed":
                items = client.get(f"/api/chat/contexts/{finals[sub['queryId']]['contextId']}/items").json()["items"]
                item = next(it for it in items if it["id"] == sub["assistantItemId"])
                error = next(s for s in item["segments"] if s["type"] == "error")
                assert error.get("retryable") is True, (finals[sub["queryId"]], error)
        # Nothing lost: every chat shows each of its prompts and an answer to it.
        for cid in contexts:
            items = client.get(f"/api/chat/contexts/{cid}/items").json()["items"]
            mine = [s for s in submitted if finals[s["queryId"]]["contextId"] == cid]
            ids = {it["id"] for it in items}
            assert all(s["assistantItemId"] in ids and s["userItemId"] in ids for s in mine), (cid, items)

        # The one replica left serves the next prompt.
        after = client.post("/api/query/submit", json={"contextId": contexts[0], "prompt": "a 30 mm cube"})
        assert after.status_code == 202, after.text
        done = _until("the prompt after the scale-down finished",
                      lambda: (s := _status(client, after.json()["queryId"]))["state"] in TERMINAL and s, timeout=300)
        assert done["state"] == "completed", (done, _logs(st, "render"))
        print(json.dumps({"states": states, "completed": states.count("completed")}))
