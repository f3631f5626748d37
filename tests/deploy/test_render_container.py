"""The render image under a real Docker engine, run with docker-compose.yml's security settings.

The container gets exactly the render service's `cap_drop`/`cap_add`, `security_opt` (seccomp profile,
no-new-privileges), `read_only`, `tmpfs` and `pids_limit` from `docker-compose config`, on a network this test
creates, its port published on 127.0.0.1 only. Pre-check off (`RENDER_PRECHECK=off`): the OS wall alone must
hold. Under the settings shipped before issue 20 (non-root user, Docker's default seccomp profile) the service
ran in "minimal" mode and one job read and overwrote another's files through `/proc/<pid>/cwd`; these tests
failed there.

`CHAT3D_TEST_RENDER_TREE` may name another checkout to take the Dockerfile and compose file from (used once to
show the tests fail on the old settings).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import threading
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
import yaml

from render_service.protocol import decode_result
from tests.support.containers import REPO_ROOT, DockerHost, docker

pytestmark = pytest.mark.slow

TREE = Path(os.environ.get("CHAT3D_TEST_RENDER_TREE", REPO_ROOT)).resolve()
SHARED = Path(os.environ.get("CHAT3D_SHARED_DIR", REPO_ROOT.parent / "shared"))
CORPUS = SHARED / "render-corpus"
MANIFEST = json.loads((CORPUS / "manifest.json").read_text(encoding="utf-8"))
CUBE = (CORPUS / "parts" / "01_cube.py").read_text(encoding="utf-8")
TOKEN = secrets.token_urlsafe(24)
SERVER_SECRET = "container-secret-" + secrets.token_hex(6)
LISTENER_PORT = 6379

# Aimed at the container's own secrets (its pid 1 is the server, with the token in its environment).
EXTRA_HOSTILE = {
    "read_server_environ.py": 'import os\nraise RuntimeError(open("/proc/1/environ").read()'
    ' + open(f"/proc/{os.getppid()}/environ").read())\n',
    "env_dump.py": "import os\nraise RuntimeError(repr(dict(os.environ)))\n",
    "list_jobs.py": "import os\nfound = []\nfor top in ('/jobs', '/jobs/render', '/jobs/render/jobs', '/proc'):\n"
    "    try:\n        found.append((top, sorted(os.listdir(top))[:50]))\n    except OSError as e:\n"
    "        found.append((top, type(e).__name__))\nraise RuntimeError(repr(found))\n",
}
HOSTILE = sorted((p.name, p.read_text(encoding="utf-8")) for p in (CORPUS / "hostile").glob("*.py")) + sorted(EXTRA_HOSTILE.items())


def compose_render_service(tree: Path = TREE) -> dict:
    """The render service as `docker-compose config` resolves it (with placeholder secrets)."""
    env = dict(os.environ, JWT_SECRET="test-jwt", RENDER_SERVICE_TOKEN=TOKEN)
    out = subprocess.run(["docker-compose", "config"], cwd=tree, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return yaml.safe_load(out.stdout)["services"]["render"]


def run_options(render: dict, tree: Path = TREE) -> list[str]:
    """docker run flags equal to the compose file's security and filesystem settings for the service."""
    opts: list[str] = []
    for cap in render.get("cap_drop", []):
        opts += ["--cap-drop", cap]
    for cap in render.get("cap_add", []):
        opts += ["--cap-add", cap]
    for opt in render.get("security_opt", []):
        kind, _, value = opt.replace(":", "=", 1).partition("=")
        if kind == "seccomp" and value != "unconfined":
            value = str((tree / value).resolve())
        opts += ["--security-opt", f"{kind}={value}" if value and value != "true" else kind]
    for mount in render.get("tmpfs", []):
        opts += ["--tmpfs", mount]
    if render.get("read_only"):
        opts.append("--read-only")
    if render.get("pids_limit"):
        opts += ["--pids-limit", str(render["pids_limit"])]
    if render.get("user"):
        opts += ["--user", str(render["user"])]
    for key, value in (render.get("environment") or {}).items():
        opts += ["-e", f"{key}={value}"]
    return opts


class RenderContainer:
    """The running container, shaped like tests/render_service's `Service` (url, client(), proc.pid: the
    server's pid as the host sees it), so H20a's tenancy cases can run against it unchanged."""

    def __init__(self, host: DockerHost, name: str):
        self.host, self.name = host, name
        self.url = f"http://127.0.0.1:{host.published_port(name, 8090)}"
        self.token = TOKEN
        self.proc = SimpleNamespace(pid=host.inspect(name)["State"]["Pid"])

    def client(self, timeout: float = 120) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=timeout, headers={"Authorization": f"Bearer {TOKEN}"})

    def render(self, code: str, **kw) -> httpx.Response:
        with self.client() as c:
            return c.post("/render", json={"code": code, **kw})

    def exec(self, *cmd: str) -> str:
        return docker("exec", self.name, *cmd, timeout=60).stdout

    def health(self) -> dict:
        with self.client(10) as c:
            r = c.get("/health")
        assert r.status_code == 200, (r.status_code, r.text[:500], self.host.logs(self.name)[-3000:])
        return r.json()


def start_container(docker_host: DockerHost, image: str, compose_render: dict, *extra: str) -> RenderContainer:
    net = docker_host.network("chat3d-render-test")
    opts = run_options(compose_render) + [
        "--network", net, "-p", "127.0.0.1::8090",
        "-e", f"RENDER_SERVICE_TOKEN={TOKEN}", "-e", "RENDER_PRECHECK=off", "-e", "RENDER_POOL_SIZE=2",
        "-e", f"CHAT3D_TEST_SECRET={SERVER_SECRET}", *extra,
    ]
    name = docker_host.run(image, name_prefix="chat3d-render-test", options=opts)
    svc = RenderContainer(docker_host, name)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        state = docker_host.inspect(name)["State"]
        assert state["Running"], f"render container exited:\n{docker_host.logs(name)[-4000:]}"
        try:
            with svc.client(3) as c:
                r = c.get("/health")
            if r.status_code == 200 and r.json().get("workers_ready", 0) >= 1:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    else:
        pytest.fail(f"render container never became healthy:\n{docker_host.logs(name)[-4000:]}")
    start_listener(name)
    return svc


def start_listener(name: str) -> None:
    """A listener inside the container, on the loopback the corpus's exfiltration program aims at."""
    docker("exec", "-d", name, "python", "-c",
           "import socket\ns = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
           f"s.bind(('127.0.0.1', {LISTENER_PORT})); s.listen(8)\n"
           "while True:\n    c, _ = s.accept(); open('/tmp/listener-accepted', 'a').write('x'); c.close()\n")


@pytest.fixture(scope="module")
def render_container(docker_host: DockerHost, render_image: str) -> RenderContainer:
    """The render service with docker-compose.yml's settings."""
    return start_container(docker_host, render_image, compose_render_service())


@pytest.fixture(scope="module")
def render_container_swarm(docker_host: DockerHost, render_image: str) -> RenderContainer:
    """As `docker stack deploy` runs the compose file: security_opt is ignored (Docker's default seccomp profile,
    no no-new-privileges), so the operator must allow the minimal mode (RENDER_SANDBOX=auto or minimal)."""
    render = compose_render_service()
    render.pop("security_opt", None)
    render["environment"] = dict(render.get("environment") or {}, RENDER_SANDBOX="auto")
    return start_container(docker_host, render_image, render)


def assert_cube_ok(svc: RenderContainer) -> None:
    assert svc.health()["status"] == "ok"
    r = svc.render(CUBE, formats=["stl"])
    assert r.status_code == 200, r.text[:2000]
    assert decode_result(r.content).metrics["bbox_size_mm"] == pytest.approx([20, 20, 20], abs=0.1)


def test_health_reports_the_namespace_sandbox_with_seccomp(render_container):
    """The compose settings give the service its full sandbox, not the "minimal" fallback."""
    h = render_container.health()
    assert h["sandbox"] == "namespaces", h
    assert h["seccomp"] is True, h
    # The service really is root in the container (it hands each job its own uid), with few capabilities.
    status = render_container.exec("cat", "/proc/1/status")
    assert re.search(r"^Uid:\s+0\s", status, re.M), status
    cap_eff = int(re.search(r"^CapEff:\s+([0-9a-f]+)", status, re.M).group(1), 16)
    assert cap_eff & (1 << 19) == 0, "CAP_SYS_PTRACE must not be granted"  # nor anything compose does not add
    assert cap_eff & (1 << 12) == 0, "CAP_NET_ADMIN must not be granted"


def test_render_requires_the_token(render_container):
    with httpx.Client(base_url=render_container.url, timeout=30) as c:
        r = c.post("/render", json={"code": CUBE})
    assert r.status_code == 401, r.text[:500]


@pytest.mark.parametrize("name", ["01_cube.py", "02_plate_with_holes.py", "04_flange.py", "05_l_bracket.py"])
def test_corpus_part_renders(render_container, name):
    r = render_container.render((CORPUS / "parts" / name).read_text(encoding="utf-8"))
    assert r.status_code == 200, r.text[:3000]
    doc, want = decode_result(r.content), MANIFEST[name]
    assert doc.metrics["bbox_size_mm"] == pytest.approx(want["bbox_size_mm"], abs=0.1)
    assert doc.metrics["volume_mm3"] == pytest.approx(want["volume_mm3"], rel=0.005)
    assert doc.metrics["solids"] == want["solids"]
    stl = next(f for f in doc.files if f.format == "stl").data
    assert len(stl) > 84


@pytest.mark.parametrize("name,code", HOSTILE, ids=[n for n, _ in HOSTILE])
def test_hostile_program_contained(render_container, name, code):
    """Each hostile program, pre-check off: no secret, no file outside its folder, no connection, and the
    service renders the cube right after."""
    assert_hostile_contained(render_container, name, code, secrets=(SERVER_SECRET, TOKEN))


def assert_hostile_contained(render_container, name: str, code: str, secrets: tuple[str, ...]) -> None:
    """The checks for one hostile program against any service shaped like RenderContainer (render(), exec(),
    health()); tests/deploy/test_compose_up.py runs them against the render service of a compose deployment."""
    r = render_container.render(code, timeout_s=5)
    assert r.status_code in (200, 422), r.text[:2000]
    text = r.text
    assert not [s for s in secrets if s in text]
    assert "root:x:0:0" not in text
    assert "RENDER_SERVICE_TOKEN" not in text
    tmp = render_container.exec("ls", "-a", "/tmp")
    assert "chat3d_pwned" not in tmp and "listener-accepted" not in tmp, tmp
    if name == "huge_output.py":
        assert r.status_code == 422 and r.json()["error"]["kind"] in ("timeout", "memory", "output_too_large")
    if name == "list_jobs.py":
        msg = r.json()["error"]["message"]
        assert "'/jobs', [" not in msg and "'/proc', [" not in msg, msg  # neither exists in the job's root
    assert_cube_ok(render_container)


VICTIM = """
import os, time
marker = {marker!r}
with open("notes.txt", "w") as fh:
    fh.write(marker)
time.sleep({hold})
raise RuntimeError("victim-still=" + open("notes.txt").read() + " files=" + repr(sorted(os.listdir("."))))
"""

ATTACKER = """
import glob, os, stat, time
me = os.getpid()
read, wrote, seen = [], [], []

def attack(path):
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # pipes and sockets would block
            return
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        read.append(os.read(fd, 200).decode(errors="replace"))
        os.close(fd)
    except OSError:
        pass
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_NONBLOCK)
        os.write(fd, b"OVERWRITTEN")
        os.close(fd)
        wrote.append(path)
    except OSError:
        pass

deadline = time.monotonic() + {hold}
while time.monotonic() < deadline and not any("VICTIM" in r for r in read):
    places = glob.glob("/proc/[0-9]*/cwd") + glob.glob("/proc/[0-9]*/root/job") + glob.glob("/proc/[0-9]*/root/jobs/render/jobs/*")
    places += glob.glob("/jobs/render/jobs/*")
    for place in places:
        if place.startswith(f"/proc/{{me}}/"):
            continue
        seen.append(place)
        try:
            names = os.listdir(place)
        except OSError:
            continue
        for n in names:
            attack(os.path.join(place, n))
    for fd_link in glob.glob("/proc/[0-9]*/fd/*"):
        if not fd_link.startswith(f"/proc/{{me}}/"):
            seen.append(fd_link)
            attack(fd_link)
    time.sleep(0.05)
raise RuntimeError(f"attacker read={{read!r}} wrote={{wrote!r}} seen={{sorted(set(seen))[:40]!r}}")
"""


def test_a_job_cannot_read_or_write_a_concurrent_jobs_folder(render_container):
    """Tenancy: a victim job holds a file in its folder while another job walks every process's
    /proc/<pid>/cwd and root, and the jobs folder, to read and overwrite it. It finds nothing, and the
    victim's file is intact when it reads it back."""
    marker = "VICTIM-" + uuid.uuid4().hex
    results: dict[str, httpx.Response] = {}

    def victim():
        results["victim"] = render_container.render(VICTIM.format(marker=marker, hold=8), timeout_s=30)

    t = threading.Thread(target=victim)
    t.start()
    time.sleep(2)  # the victim's worker has written its file (it starts on a ready spare)
    results["attacker"] = render_container.render(ATTACKER.format(hold=5), timeout_s=30)
    t.join()
    attacker, victim_r = results["attacker"], results["victim"]
    assert attacker.status_code == 422, attacker.text[:2000]
    assert marker not in attacker.text, "a job read another job's file: " + attacker.json()["error"]["message"][:1500]
    assert "wrote=[]" in attacker.text, attacker.json()["error"]["message"][:1500]
    assert victim_r.status_code == 422, victim_r.text[:2000]
    vmsg = victim_r.json()["error"]["message"]
    assert f"victim-still={marker} " in vmsg, vmsg  # written by the victim alone
    assert_cube_ok(render_container)


def test_the_server_is_not_visible_to_jobs(render_container):
    """A job sees no process but its own (pid namespace) and none of the server's environment."""
    probe = ("import os\nraise RuntimeError('pid=%d pids=%r' % (os.getpid(), "
             "sorted(p for p in os.listdir('/proc') if p.isdigit()) if os.path.isdir('/proc') else 'no-proc'))\n")
    r = render_container.render(probe, timeout_s=10)
    assert r.status_code == 422, r.text[:1000]
    msg = r.json()["error"]["message"]
    assert "pid=1 " in msg and "pids='no-proc'" in msg, msg


def test_seccomp_profile_allows_the_namespace_calls_and_nothing_dangerous():
    """render_service/seccomp.json (scripts/render_seccomp.py): an allow-list like Docker's default, plus the
    calls the per-job namespaces need; the service never needs another process's memory or kernel modules."""
    profile = json.loads((REPO_ROOT / "render_service" / "seccomp.json").read_text(encoding="utf-8"))
    assert profile["defaultAction"] == "SCMP_ACT_ERRNO"
    allowed = {n for rule in profile["syscalls"] if rule["action"] == "SCMP_ACT_ALLOW" for n in rule["names"]}
    assert {"unshare", "setns", "mount", "umount2", "pivot_root", "clone", "clone3", "pidfd_open"} <= allowed
    assert {"read", "write", "openat", "mmap", "futex", "epoll_wait", "wait4", "execve"} <= allowed
    assert not {"ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "kexec_load", "init_module",
                "bpf", "userfaultfd", "open_by_handle_at", "keyctl", "io_uring_setup", "fsopen"} & allowed


def test_under_swarm_jobs_are_still_separated_by_uid(render_container_swarm):
    """Without the seccomp profile the service falls back to "minimal" mode, but as root: every job runs under a
    uid of its own, so a concurrent job still cannot read or write its folder (through /proc/<pid>/cwd, /proc/<pid>/
    root or the jobs folder), nor read the server's environment."""
    h = render_container_swarm.health()
    assert h["sandbox"] == "minimal" and h["seccomp"] is True, h
    test_a_job_cannot_read_or_write_a_concurrent_jobs_folder(render_container_swarm)
    r = render_container_swarm.render(EXTRA_HOSTILE["read_server_environ.py"], timeout_s=10)
    assert r.status_code == 422 and SERVER_SECRET not in r.text and TOKEN not in r.text, r.text[:1000]
    probe = "import os\nraise RuntimeError('uid=%d' % os.getuid())\n"
    uids = {render_container_swarm.render(probe, timeout_s=10).json()["error"]["message"] for _ in range(2)}
    assert all("uid=0" not in u for u in uids), uids


# ---------------------------------------------------------------------------------------------
# tests/render_service/test_tenancy.py's cases, against the container (their `svc` is our container).


def _tenancy():
    """That module, imported the way pytest imports it (tests/render_service has no __init__.py)."""
    import importlib
    import sys

    folder = str(REPO_ROOT / "tests" / "render_service")
    if folder not in sys.path:
        sys.path.insert(0, folder)
    return importlib.import_module("test_tenancy")


TENANCY_CASES = [
    "test_heap_scan_finds_no_earlier_jobs_program",
    "test_frame_walk_and_fds_reach_nothing_of_the_zygote_or_other_jobs",
    "test_signals_and_pidfds_at_zygote_and_server_are_refused",
    "test_status_pipe_flood_costs_the_zygote_linear_time",
    "test_filling_the_disk_across_many_files_is_output_too_large",
]


@pytest.mark.parametrize("case", TENANCY_CASES)
def test_tenancy_case_in_the_container(render_container, case):
    getattr(_tenancy(), case)(render_container)
