"""docker-compose.yml started for real (`make deploy-test`, also part of `make test`), issue 22 item 1.

One deployment per module, from the images built out of this work tree (tests/support/containers.py; the
PostgreSQL and Redis stand-ins from deploy/ when registry images cannot be pulled). `docker-compose up -d` under a
project name of its own, then the health checks (bounded), then, in order, through the published port only:
`/ready`; register, confirm from the mail the app sends (no SMTP configured: the worker writes it to the outbox
folder in the files volume, which we read inside the worker container), sign in; a prompt (offline provider) runs on
a worker, its events arrive on the SSE stream and it completes with a STEP download; `docker restart` of the app
keeps the data; the docs' backup commands; the render service's main process SIGKILLed from the host mid-job (`docker kill` would not trigger
the restart policy) gives a clear retryable failure, compose restarts it, Retry works; hostile programs are
contained in the deployed render container (the checks of test_render_container.py); the deployment removed with
`down -v` and brought back by the docs' restore commands; `docker-compose down -v` leaves no container, volume or
network of the project, and the images stay.

Traffic goes only to this project's containers, on the networks compose created for it. On failure the check's
message carries `docker-compose logs`.
"""

from __future__ import annotations

import functools
import io
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import tarfile
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.deploy.test_render_container import CORPUS, EXTRA_HOSTILE, assert_hostile_contained, start_listener
from tests.events.sse import SseParser
from tests.support.containers import REPO_ROOT, DockerHost, docker

# The module's first check also pays for the image builds (about 9 minutes on a fresh machine, seconds when cached).
# Part of `make test`: it skips only when Docker cannot run here (tests/deploy/conftest.py says why).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]

EMAIL = "deploy-user@example.com"
PASSWORD = "deploy-test-password-7"
PROMPT = "a plate 40 x 20 x 3 mm"
TERMINAL = {"completed", "failed", "cancelled"}
# A few of the corpus's hostile programs plus the ones aimed at the container's own secrets.
HOSTILE = [(n, (CORPUS / "hostile" / n).read_text(encoding="utf-8")) for n in ("read_secret_file.py", "network_exfiltration.py",
                                                                "write_outside_job_dir.py")]
HOSTILE += [(n, EXTRA_HOSTILE[n]) for n in ("read_server_environ.py", "env_dump.py")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _until(what: str, check: Callable[[], Any], timeout: float, every: float = 1.0) -> Any:
    """Call `check` until it returns something truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(every)
    raise AssertionError(f"{what}: not within {timeout:.0f} s (last: {last!r})")


@dataclass
class Deployment:
    project: str
    env: dict[str, str]
    url: str
    token: str
    images: dict[str, str]
    state: dict[str, Any] = field(default_factory=dict)

    def compose(self, *args: str, check: bool = True, timeout: float = 600, input: bytes | None = None,
                binary: bool = False) -> subprocess.CompletedProcess:
        result = subprocess.run(["docker-compose", "--env-file", self.env["CHAT3D_EMPTY_ENV_FILE"], "-p", self.project,
                                 *args], cwd=REPO_ROOT, env=self.env, capture_output=True, text=not binary,
                                input=input, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"docker-compose {' '.join(args)} failed:\n{result.stdout[-3000:]!r}\n{result.stderr[-3000:]!r}")
        return result

    def containers(self, service: str | None = None) -> list[str]:
        """This project's containers (running or not), by compose's labels."""
        filters = ["--filter", f"label=com.docker.compose.project={self.project}"]
        if service:
            filters += ["--filter", f"label=com.docker.compose.service={service}"]
        return docker("ps", "-a", "-q", *filters).stdout.split()

    def container_state(self, cid: str) -> dict:
        return json.loads(docker("inspect", cid).stdout)[0]["State"]

    def logs(self) -> str:
        out = self.compose("logs", "--no-color", "--tail", "80", check=False, timeout=120)
        return (out.stdout + out.stderr)[-30000:]

    def wait_healthy(self, timeout: float = 900) -> None:
        """Every container of the project running and healthy (each service has a health check)."""
        def healthy() -> bool:
            ids = self.containers()
            states = [self.container_state(c) for c in ids]
            return bool(ids) and all(s.get("Running") and s.get("Health", {}).get("Status") == "healthy" for s in states)
        _until("every container healthy", healthy, timeout, every=2)

    def client(self, timeout: float = 60) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=timeout)

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.state['token']}"}


def dumps_logs(test: Callable) -> Callable:
    """Append `docker-compose logs` to a failing check's message."""
    @functools.wraps(test)
    def wrapper(deployment: Deployment, *args, **kwargs):
        try:
            return test(deployment, *args, **kwargs)
        except BaseException as exc:
            if isinstance(exc, (KeyboardInterrupt, pytest.skip.Exception)):
                raise
            raise AssertionError(f"{exc}\n\n---- docker-compose logs ({deployment.project}) ----\n{deployment.logs()}") from exc
    return wrapper


@pytest.fixture(scope="module")
def deployment(docker_host: DockerHost, stack_images: dict[str, str]) -> Iterator[Deployment]:
    images = stack_images
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    token = secrets.token_hex(24)
    empty = tempfile.NamedTemporaryFile("w", encoding="utf-8", prefix="chat3d-compose-", suffix=".env", delete=False)
    empty.close()
    # Only what the compose file reads, and nothing from this process (API keys, SMTP, ...) leaks in.
    env = {k: os.environ[k] for k in ("PATH", "HOME", "DOCKER_HOST", "DOCKER_CONFIG") if k in os.environ}
    env |= images | {
        "CHAT3D_EMPTY_ENV_FILE": empty.name,
        "JWT_SECRET": secrets.token_hex(32), "RENDER_SERVICE_TOKEN": token, "POSTGRES_PASSWORD": secrets.token_hex(12),
        "PORT": str(port), "APP_BASE_URL": url, "CORS_ALLOWED_ORIGINS": url,
        # Two cores shared with the rest of the suite: one of each replica, two backend processes.
        "APP_REPLICAS": "1", "RENDER_REPLICAS": "1", "APP_WORKERS": "2",
    }
    dep = Deployment(project=f"chat3d-deploytest-{uuid.uuid4().hex[:8]}", env=env, url=url, token=token, images=images)
    try:
        up = time.monotonic()
        dep.compose("up", "-d", "--no-build")
        try:
            dep.wait_healthy()
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n---- docker-compose logs ----\n{dep.logs()}") from exc
        dep.state["timings"] = {"image_builds_s": {t: round(v, 1) for t, v in docker_host.build_seconds.items()},
                                "up_healthy_s": round(time.monotonic() - up, 1)}
        yield dep
    finally:
        if not dep.state.get("down"):
            dep.compose("down", "-v", "--remove-orphans", check=False)
        os.unlink(empty.name)
        print(f"\ncompose deployment timings: {dep.state.get('timings')}")


# ------------------------------------------------------------------------------------------------- helpers


def _outbox_mail(dep: Deployment, to: str) -> list[dict]:
    """The mail summaries the worker wrote for `to` (no SMTP configured: the outbox folder in the files volume)."""
    worker = dep.containers("worker")[0]
    out = docker("exec", worker, "sh", "-c", "for f in /data/outbox/*.json; do [ -f \"$f\" ] && cat \"$f\" && printf '\\036'; done; true").stdout
    found = [json.loads(m) for m in out.split("\x1e") if m.strip()]
    return [m for m in found if m["to"] == to]


def _wait_query(dep: Deployment, qid: str, states: set[str], timeout: float) -> dict:
    with dep.client() as c:
        return _until(f"query {qid} in {states}",
                      lambda: (b := c.get(f"/api/query/{qid}", headers=dep.auth()).json())["state"] in states and b,
                      timeout, every=0.5)


def _query_ids(tap: EventTap, cid: str) -> list[str]:
    """The chat's queries in the order they started, from the `chat.query.state` events the stream delivered."""
    ids: list[str] = []
    for e in tap.of_type("chat.query.state"):
        if e.get("contextId") == cid and e["queryId"] not in ids:
            ids.append(e["queryId"])
    return ids


def _items(dep: Deployment, cid: str) -> list[dict]:
    with dep.client() as c:
        r = c.get(f"/api/chat/contexts/{cid}/items", headers=dep.auth())
    assert r.status_code == 200, r.text[:500]
    return r.json()["items"]


def _step_of(dep: Deployment, item: dict) -> bytes:
    model = next(s for s in item["segments"] if s["type"] == "model")
    files = {f["format"]: f for f in model["files"]}
    with dep.client() as c:
        r = c.get(f"/api/files/{files['step']['id']}", headers=dep.auth())
    assert r.status_code == 200, r.text[:500]
    return r.content


class EventTap:
    """The user's SSE stream (`/api/events/stream`) read in a thread, through the published port."""

    def __init__(self, dep: Deployment):
        self.dep, self.events, self.ready = dep, [], threading.Event()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> EventTap:
        self.thread.start()
        assert self.ready.wait(60), "the event stream did not open"
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(30)

    def _run(self) -> None:
        parser = SseParser()
        with httpx.Client(base_url=self.dep.url, timeout=httpx.Timeout(60, read=30)) as c:
            try:
                with c.stream("GET", "/api/events/stream", headers=self.dep.auth()) as r:
                    for line in r.iter_lines():
                        event = parser.feed(line.rstrip("\r\n"))
                        if parser.last_event_id:  # the first frame carries the cursor: the stream is live
                            self.ready.set()
                        if event is not None:
                            self.events.append(event)
                        if self.stop.is_set():
                            return
            except httpx.ReadTimeout:
                if not self.stop.is_set():
                    raise

    def of_type(self, kind: str) -> list[dict]:
        """The payloads of the events of one type, in order."""
        return [json.loads(e.data)["payload"] for e in list(self.events) if e.event == kind]


class DeployedRender:
    """The deployment's render service, reached from inside its own container (it publishes no port and sits on
    an internal network), shaped like test_render_container.RenderContainer: render(), exec(), health()."""

    CLIENT = (
        "import os, sys, urllib.error, urllib.request\n"
        "method, path = sys.argv[1], sys.argv[2]\n"
        "body = sys.stdin.buffer.read() if method == 'POST' else None\n"
        "req = urllib.request.Request('http://127.0.0.1:8090' + path, data=body, method=method, headers={\n"
        "    'Content-Type': 'application/json', 'Authorization': 'Bearer ' + os.environ['DEPLOY_TEST_TOKEN']})\n"
        "try:\n"
        "    r = urllib.request.urlopen(req, timeout=120); status, out = r.status, r.read()\n"
        "except urllib.error.HTTPError as e:\n"
        "    status, out = e.code, e.read()\n"
        "sys.stdout.write(f'{status}\\n'); sys.stdout.flush(); sys.stdout.buffer.write(out)\n"
    )

    def __init__(self, name: str, token: str):
        self.name, self.token = name, token

    def _call(self, method: str, path: str, body: bytes = b"") -> httpx.Response:
        result = subprocess.run(["docker", "exec", "-i", "-e", f"DEPLOY_TEST_TOKEN={self.token}", self.name, "python",
                                 "-c", self.CLIENT, method, path], input=body, capture_output=True, timeout=180)
        assert result.returncode == 0, result.stderr.decode(errors="replace")[-2000:]
        status, _, content = result.stdout.partition(b"\n")
        return httpx.Response(int(status), content=content)

    def render(self, code: str, **kw) -> httpx.Response:
        return self._call("POST", "/render", json.dumps({"code": code, **kw}).encode())

    def exec(self, *cmd: str) -> str:
        return docker("exec", self.name, *cmd, timeout=60).stdout

    def health(self) -> dict:
        r = self._call("GET", "/health")
        assert r.status_code == 200, (r.status_code, r.text[:500])
        return r.json()


# ------------------------------------------------------------------------------------------------- checks (in order)


@dumps_logs
def test_ready_through_the_published_port(deployment: Deployment) -> None:
    with deployment.client() as c:
        r = c.get("/ready")
    assert r.status_code == 200, r.text[:1000]
    # The render service publishes nothing: only the proxy (and so the app) is reachable from the host.
    ports = docker("ps", "--format", "{{.Names}} {{.Ports}}", "--filter",
                   f"label=com.docker.compose.project={deployment.project}").stdout
    published = [line for line in ports.splitlines() if "->" in line]
    assert published and all(f":{deployment.env['PORT']}->" in line for line in published), ports


@dumps_logs
def test_register_confirm_by_mail_and_sign_in(deployment: Deployment) -> None:
    with deployment.client() as c:
        r = c.post("/api/auth/register", json={"email": EMAIL, "password": PASSWORD, "displayName": "Deploy"})
        assert r.status_code == 202, r.text[:500]  # "check your mail"
        assert c.post("/api/auth/login", json={"email": EMAIL, "password": PASSWORD}).status_code in (401, 403)
        mail = _until("the confirmation mail in the outbox", lambda: _outbox_mail(deployment, EMAIL), 120)
        link = re.search(r"https?://\S+/profile/actions/confirm\?token=([\w\-.~%]+)", mail[0]["text"])
        assert link and link.group(0).startswith(deployment.url), mail[0]["text"]
        confirmed = c.post("/api/profile/actions/confirm", json={"token": link.group(1)})
        assert confirmed.status_code == 200, confirmed.text[:500]
        login = c.post("/api/auth/login", json={"email": EMAIL, "password": PASSWORD})
        assert login.status_code == 200, login.text[:500]
    deployment.state["token"] = login.json()["token"]


@dumps_logs
def test_prompt_runs_on_a_worker_streams_events_and_completes_with_a_step(deployment: Deployment) -> None:
    h = deployment.auth()
    with EventTap(deployment) as tap, deployment.client() as c:
        cid = c.post("/api/chat/contexts", json={}, headers=h).json()["id"]
        sub = c.post("/api/query/submit", json={"contextId": cid, "prompt": PROMPT}, headers=h)
        assert sub.status_code == 202, sub.text[:500]
        qid = sub.json()["queryId"]
        done = _wait_query(deployment, qid, TERMINAL, 240)
        assert done["state"] == "completed", done
        _until("the completed state on the event stream",
               lambda: any(e.get("queryId") == qid and e.get("state") == "completed"
                           for e in tap.of_type("chat.query.state")), 30, every=0.5)
    states = [e["state"] for e in tap.of_type("chat.query.state") if e.get("queryId") == qid]
    assert "rendering" in states and states[-1] == "completed", states
    assert tap.of_type("chat.item.updated"), [e.event for e in tap.events]
    step = _step_of(deployment, _items(deployment, cid)[-1])
    assert step.startswith(b"ISO-10303-21"), step[:100]
    # The app enqueues; a worker container ran it (Redis between them).
    worker_logs = "".join(docker("logs", w, check=False).stderr + docker("logs", w, check=False).stdout
                          for w in deployment.containers("worker"))
    assert qid in worker_logs or "run_query" in worker_logs, worker_logs[-3000:]
    deployment.state.update(cid=cid, step=step)


@dumps_logs
def test_restarting_the_app_keeps_the_data(deployment: Deployment) -> None:
    apps = deployment.containers("app")
    before = {a: deployment.container_state(a)["StartedAt"] for a in apps}
    docker("restart", *apps, timeout=180)
    assert all(deployment.container_state(a)["StartedAt"] != before[a] for a in apps)
    deployment.wait_healthy(600)
    with deployment.client() as c:
        _until("/ready after the restart", lambda: c.get("/ready").status_code == 200, 300)
        me = c.get("/api/auth/me", headers=deployment.auth())
    assert me.status_code == 200 and me.json()["email"] == EMAIL, me.text[:500]  # the session survived too
    assert _step_of(deployment, _items(deployment, deployment.state["cid"])[-1]) == deployment.state["step"]


@dumps_logs
def test_backup_commands_of_the_docs(deployment: Deployment) -> None:
    """docs/deployment.md's two backup commands, run as written: the dump restores to SQL holding the account, the
    archive of the files volume holds the STEP file byte for byte."""
    dump = deployment.compose("exec", "-T", "postgres", "pg_dump", "-U", "chat3d", "--format=custom", "--no-owner",
                              "chat3d", binary=True).stdout
    assert dump.startswith(b"PGDMP"), dump[:50]
    sql = deployment.compose("exec", "-T", "postgres", "pg_restore", "-f", "-", input=dump, binary=True).stdout
    assert EMAIL.encode() in sql and b"CREATE TABLE public.chat_items" in sql
    archive = deployment.compose("exec", "-T", "app", "tar", "-C", "/data", "-czf", "-", "files", binary=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        contents = [tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()]
    assert deployment.state["step"] in contents
    deployment.state.update(dump=dump, archive=archive)


@dumps_logs
def test_live_text_from_a_worker_then_render_killed_mid_job_fails_retryably_and_retry_works(
        deployment: Deployment) -> None:
    """In a browser through the published port: the prompt runs on a worker and its text streams into the page
    (Redis carries it from the worker container to the app's) while the render service's main process is stopped,
    so the query cannot finish and whatever text shows arrived live. Then that process is SIGKILLed from the host
    (`docker kill` would count as a manual stop): the query fails with a retryable "render service" message, the
    restart policy brings the service back, and Retry completes."""
    from playwright.sync_api import expect, sync_playwright

    from tests.browser.conftest import CHROMIUM_ARGS

    (render,) = deployment.containers("render")
    workers = deployment.containers("worker")
    pid = deployment.container_state(render)["Pid"]
    restarts = json.loads(docker("inspect", "-f", "{{json .RestartCount}}", render).stdout)
    with sync_playwright() as pw, EventTap(deployment) as tap:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
            page.goto(deployment.url + "/login")
            page.get_by_label("Email").fill(EMAIL)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(re.compile(r"/chat"), timeout=60_000)
            # Signing in lands on the latest chat (/chat/<id>): the new one is the chat id not seen before.
            with deployment.client() as c:
                known = {ctx["id"] for ctx in c.get("/api/chat/contexts", headers=deployment.auth()).json()["items"]}

            def new_chat(url: str) -> bool:
                found = re.search(r"/chat/([0-9a-f-]{36})/?$", url)
                return bool(found) and found.group(1) not in known
            page.get_by_role("button", name="New chat").click()
            page.wait_for_url(new_chat, timeout=60_000)
            cid = page.url.rstrip("/").rsplit("/", 1)[-1]
            expect(page.locator(f'[data-chat-id="{cid}"]')).to_be_visible(timeout=60_000)
            page.get_by_label("Prompt").fill("a 20 mm cube")
            # Live text is ephemeral: the workers are stopped until the page's watcher for the new query is
            # listening (the job waits in Redis), and the render service is held so the query stays in flight.
            # Not `docker pause`: a frozen worker's saq took the job off the queue, and its sweeper aborted it on
            # thaw as stuck.
            docker("stop", "-t", "20", *workers, timeout=120)
            os.kill(pid, signal.SIGSTOP)
            try:
                page.get_by_role("button", name="Send").click()
                bubble = page.get_by_test_id("assistant-bubble").last
                expect(bubble).to_be_visible(timeout=60_000)
                time.sleep(2)  # the page subscribes to the query's live text right after it shows the bubble
            finally:
                docker("start", *workers, timeout=120)
            try:
                qid = _until("the query started", lambda: _query_ids(tap, cid), 120)[0]
                _wait_query(deployment, qid, {"rendering"}, 120)
                expect(bubble.locator("p").first).to_be_visible(timeout=60_000)
                live_text = bubble.inner_text()
                assert _wait_query(deployment, qid, {"rendering"}, 5)  # still in flight
            finally:
                os.kill(pid, signal.SIGKILL)
            failed = _wait_query(deployment, qid, TERMINAL, 180)
            assert failed["state"] == "failed", failed
            assert "render service" in failed["detail"] and "try again" in failed["detail"], failed["detail"]
            item = _items(deployment, cid)[-1]
            error = next(s for s in item["segments"] if s["type"] == "error")
            assert error["kind"] == "render_unavailable" and error["retryable"] is True, error
            expect(bubble.get_by_role("alert")).to_contain_text("render service", timeout=60_000)

            def restarted() -> bool:
                now = deployment.container_state(render)
                return now["Running"] and now["Pid"] != pid and now.get("Health", {}).get("Status") == "healthy"
            _until("the render service restarted by its restart policy", restarted, 300, every=2)
            assert json.loads(docker("inspect", "-f", "{{json .RestartCount}}", render).stdout) > restarts

            bubble.get_by_role("button", name="Retry").click()
            retry = _until("the retry started", lambda: _query_ids(tap, cid)[1:], 120)[0]
            done = _wait_query(deployment, retry, TERMINAL, 240)
            assert done["state"] == "completed", done
            expect(page.get_by_test_id("metrics-line").last).to_be_visible(timeout=60_000)
        finally:
            browser.close()
    answer = _items(deployment, cid)[-1]["segments"]
    model = next(s for s in answer if s["type"] == "model")
    assert model["metrics"]["bbox_size_mm"] == pytest.approx([20, 20, 20], abs=0.1)
    # What streamed in while the render service was held is the answer's text (the offline model says the same
    # again on Retry; a failed render keeps only the error in the stored item).
    said = next(s["text"] for s in answer if s["type"] == "text" and s["text"].strip())
    assert said.split("\n")[0][:40] in live_text, (said, live_text)


@pytest.mark.parametrize("name,code", HOSTILE, ids=[n for n, _ in HOSTILE])
@dumps_logs
def test_hostile_program_contained_in_the_deployed_render_service(deployment: Deployment, name: str, code: str) -> None:
    (render,) = deployment.containers("render")
    if not deployment.state.get("listener"):
        start_listener(render)
        deployment.state["listener"] = True
    svc = DeployedRender(render, deployment.token)
    assert svc.health()["sandbox"] == "namespaces"
    assert_hostile_contained(svc, name, code, secrets=(deployment.token, deployment.env["JWT_SECRET"],
                                                       deployment.env["POSTGRES_PASSWORD"]))


@dumps_logs
def test_restore_commands_of_the_docs_bring_back_a_removed_deployment(deployment: Deployment) -> None:
    """docs/deployment.md's restore commands, run as written, into a fresh deployment (`down -v` first: no data
    left) from the backup taken above: the account signs in with its password, its session and chat are back and
    the STEP file downloads byte for byte."""
    dep = deployment
    dep.compose("down", "-v", "--remove-orphans")
    assert dep.containers() == []
    dep.compose("up", "-d", "--no-build", "postgres")
    (postgres,) = dep.containers("postgres")
    _until("postgres healthy", lambda: dep.container_state(postgres).get("Health", {}).get("Status") == "healthy",
           180, every=1)
    dep.compose("exec", "-T", "postgres", "pg_restore", "-U", "chat3d", "-d", "chat3d", "--clean", "--if-exists",
                "--single-transaction", input=dep.state["dump"], binary=True)
    dep.compose("run", "--rm", "--no-deps", "-T", "--entrypoint", "", "app", "tar", "-C", "/data", "-xzf", "-",
                input=dep.state["archive"], binary=True)
    dep.compose("up", "-d", "--no-build")
    dep.wait_healthy(600)
    with dep.client() as c:
        _until("/ready after the restore", lambda: c.get("/ready").status_code == 200, 300)
        me = c.get("/api/auth/me", headers=dep.auth())
        assert me.status_code == 200 and me.json()["email"] == EMAIL, me.text[:500]
        login = c.post("/api/auth/login", json={"email": EMAIL, "password": PASSWORD})
        assert login.status_code == 200, login.text[:500]
    assert _step_of(dep, _items(dep, dep.state["cid"])[-1]) == dep.state["step"]


@dumps_logs
def test_down_removes_containers_volumes_and_networks_and_keeps_images(deployment: Deployment) -> None:
    deployment.compose("down", "-v", "--remove-orphans")
    deployment.state["down"] = True
    label = f"label=com.docker.compose.project={deployment.project}"
    assert deployment.containers() == []
    assert docker("volume", "ls", "-q", "--filter", label).stdout.split() == []
    assert docker("network", "ls", "-q", "--filter", label).stdout.split() == []
    assert not [n for n in docker("volume", "ls", "--format", "{{.Name}}").stdout.split() if n.startswith(deployment.project)]
    assert not [n for n in docker("network", "ls", "--format", "{{.Name}}").stdout.split() if n.startswith(deployment.project)]
    for image in deployment.images.values():
        assert docker("image", "inspect", image, check=False).returncode == 0, f"{image} was removed"
