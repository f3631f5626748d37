"""Docker for tests: a daemon, a Debian base image and image builds, on machines without registry images.

Tests that must exercise the shipped images (the render service's sandbox under a real Docker engine, the
deployment later) use `DockerHost`:

- `ensure_daemon()` uses the daemon that answers `docker info`; when none does and we are root with `dockerd`
  installed, it starts one (log in the cache dir) and `close()` stops only that one.
- `base_image()` returns the image the Dockerfiles are built FROM: `CHAT3D_BASE_IMAGE` when set, else the cached
  `chat3d-base:bookworm`, else the registry's `python:3.11-slim-bookworm` when it can be pulled, else a Debian
  bookworm made with `debootstrap --variant=minbase` and `docker import`ed under `chat3d-base:bookworm`. The
  tarball is kept in the cache dir (`CHAT3D_CONTAINER_CACHE`, default /var/cache/chat3d), so a lost image is
  re-imported without a download.
- `build(tag, dockerfile)` builds from the repository root with `--build-arg BASE_IMAGE=<base>`; Docker's layer
  cache makes a rebuild with unchanged inputs take seconds, and a fresh machine builds from nothing.

`unavailable_reason()` says why Docker cannot be used here (no binary, not root and no daemon); callers skip
with that reason and only then.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
BASE_TAG = "chat3d-base:bookworm"
REGISTRY_BASE = "python:3.11-slim-bookworm"
CACHE_DIR = Path(os.environ.get("CHAT3D_CONTAINER_CACHE", "/var/cache/chat3d"))
DEBIAN_MIRROR = os.environ.get("CHAT3D_DEBIAN_MIRROR", "http://deb.debian.org/debian")


class DockerUnavailable(RuntimeError):
    pass


def unavailable_reason() -> str | None:
    """None when Docker can be used (a daemon answers, or we may start one); else a reason to skip."""
    if shutil.which("docker") is None:
        return "no docker client installed (apt-get install docker.io)"
    if _daemon_answers():
        return None
    if os.geteuid() != 0:
        return "no Docker daemon answers and starting one needs root"
    if shutil.which("dockerd") is None:
        return "no Docker daemon answers and dockerd is not installed (apt-get install docker.io)"
    return None


def _daemon_answers() -> bool:
    try:
        return subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True,
                              timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def docker(*args: str, check: bool = True, timeout: float = 120, **kw) -> subprocess.CompletedProcess:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, **kw)
    if check and result.returncode != 0:
        raise DockerUnavailable(f"docker {' '.join(args[:3])} failed ({result.returncode}): {result.stderr[-2000:]}")
    return result


def image_exists(tag: str) -> bool:
    return docker("image", "inspect", tag, check=False).returncode == 0


def extra_ca_certs() -> str:
    """The machine's locally added CAs (/usr/local/share/ca-certificates), for builds behind a TLS-inspecting
    proxy: the Dockerfiles hand them to pip and npm for the build only."""
    found = sorted(Path("/usr/local/share/ca-certificates").glob("**/*.crt"))
    return "\n".join(p.read_text(encoding="utf-8").strip() for p in found)


@contextmanager
def _cache_lock(name: str):
    """Serialise base builds between concurrent test sessions on one machine."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with open(CACHE_DIR / f"{name}.lock", "w", encoding="utf-8") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@dataclass
class DockerHost:
    """One test session's use of Docker; `close()` undoes only what this object started or created."""

    started_daemon: subprocess.Popen | None = None
    builds: list[subprocess.Popen] = field(default_factory=list)
    stopping_builds: bool = False
    networks: list[str] = field(default_factory=list)
    containers: list[str] = field(default_factory=list)
    build_seconds: dict[str, float] = field(default_factory=dict)

    # ------------------------------------------------------------------ daemon
    def ensure_daemon(self, timeout: float = 90) -> None:
        reason = unavailable_reason()
        if reason:
            raise DockerUnavailable(reason)
        if _daemon_answers():
            return
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        log = open(CACHE_DIR / "dockerd.log", "ab")
        # Niced: image builds start while the rest of the suite runs (SessionImages), and should take only the CPU
        # that suite leaves (build steps and containers inherit the daemon's niceness).
        self.started_daemon = subprocess.Popen(["nice", "-n", "10", "dockerd"], stdout=log, stderr=subprocess.STDOUT,
                                               stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.started_daemon.poll() is not None:
                raise DockerUnavailable(f"dockerd exited with {self.started_daemon.returncode}; see {CACHE_DIR}/dockerd.log")
            if _daemon_answers():
                return
            time.sleep(0.5)
        raise DockerUnavailable(f"dockerd did not answer within {timeout}s; see {CACHE_DIR}/dockerd.log")

    def stop_builds(self) -> None:
        """A session ending early (-x, Ctrl-C) does not wait for builds it no longer needs: stop them, start no more."""
        self.stopping_builds = True
        for build in self.builds:
            if build.poll() is None:
                build.terminate()

    def close(self) -> None:
        self.stop_builds()
        for name in reversed(self.containers):
            docker("rm", "-f", "-v", name, check=False, timeout=60)
        for net in reversed(self.networks):
            docker("network", "rm", net, check=False, timeout=60)
        self.containers.clear()
        self.networks.clear()
        if self.started_daemon is not None and self.started_daemon.poll() is None:
            self.started_daemon.send_signal(signal.SIGTERM)
            try:
                self.started_daemon.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.started_daemon.kill()
                self.started_daemon.wait()
        self.started_daemon = None

    # ------------------------------------------------------------------ images
    def base_image(self) -> str:
        given = os.environ.get("CHAT3D_BASE_IMAGE")
        if given:
            return given
        with _cache_lock("base"):
            if image_exists(BASE_TAG):
                return BASE_TAG
            if image_exists(REGISTRY_BASE) or docker("pull", REGISTRY_BASE, check=False, timeout=180).returncode == 0:
                return REGISTRY_BASE
            self._import_debian_base()
            return BASE_TAG

    def _import_debian_base(self) -> None:
        """`debootstrap --variant=minbase bookworm`, tarred once into the cache dir, `docker import`ed."""
        tarball = CACHE_DIR / "bookworm-minbase.tar"
        if not tarball.exists():
            if shutil.which("debootstrap") is None:
                if os.geteuid() != 0:
                    raise DockerUnavailable("no registry base image and no debootstrap (apt-get install debootstrap)")
                subprocess.run(["apt-get", "install", "-y", "-qq", "debootstrap"], check=True, capture_output=True,
                               env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"), timeout=600)
            rootfs = CACHE_DIR / f"rootfs-{uuid.uuid4().hex[:8]}"
            try:
                subprocess.run(["debootstrap", "--variant=minbase", "bookworm", str(rootfs), DEBIAN_MIRROR],
                               check=True, capture_output=True, timeout=1800)
                partial = tarball.with_suffix(".partial")
                subprocess.run(["tar", "-C", str(rootfs), "--numeric-owner", "-cf", str(partial), "."],
                               check=True, capture_output=True, timeout=600)
                partial.rename(tarball)
            finally:
                shutil.rmtree(rootfs, ignore_errors=True)
        docker("import", "--change", 'CMD ["/bin/bash"]', "--change", "ENV LANG=C.UTF-8",
               str(tarball), BASE_TAG, timeout=600)

    def build(self, tag: str, dockerfile: str, context: Path = REPO_ROOT, timeout: float = 3600,
              target: str | None = None) -> str:
        """Build `tag` (the Dockerfile's stage `target` if given) on the base image (layer cache kept by Docker
        between runs); returns the tag."""
        base = self.base_image()
        if self.stopping_builds:
            raise DockerUnavailable(f"not building {tag}: the session is ending")
        t0 = time.monotonic()
        build = subprocess.Popen(
            ["docker", "build", "--force-rm", "--build-arg", f"BASE_IMAGE={base}", "--build-arg", f"EXTRA_CA_CERTS={extra_ca_certs()}",
             "-f", str(context / dockerfile), "-t", tag, *(["--target", target] if target else []),
             str(context)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ, DOCKER_BUILDKIT="0"),
        )
        self.builds.append(build)
        try:
            stdout, stderr = build.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            build.kill()
            stdout, stderr = build.communicate()
        result = subprocess.CompletedProcess(build.args, build.returncode, stdout, stderr)
        self.build_seconds[tag] = time.monotonic() - t0
        if result.returncode != 0:
            raise DockerUnavailable(f"docker build {tag} failed:\n{result.stdout[-4000:]}\n{result.stderr[-3000:]}")
        return tag

    # ------------------------------------------------------------------ runtime
    def network(self, prefix: str = "chat3d-test") -> str:
        """A bridge network of our own (containers on it talk only to each other and the host)."""
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        docker("network", "create", "--driver", "bridge", name)
        self.networks.append(name)
        return name

    def run(self, image: str, *, name_prefix: str = "chat3d-test", options: list[str] = (), command: list[str] = (),
            ) -> str:
        """`docker run -d` with the given options; the container is removed by `close()`."""
        name = f"{name_prefix}-{uuid.uuid4().hex[:8]}"
        docker("run", "-d", "--name", name, *options, image, *command, timeout=120)
        self.containers.append(name)
        return name

    def remove(self, name: str) -> None:
        docker("rm", "-f", "-v", name, check=False, timeout=60)
        if name in self.containers:
            self.containers.remove(name)

    def published_port(self, name: str, container_port: int) -> int:
        out = docker("port", name, f"{container_port}/tcp").stdout.strip().splitlines()
        for line in out:  # "127.0.0.1:49153"
            host, _, port = line.rpartition(":")
            if host == "127.0.0.1":
                return int(port)
        raise DockerUnavailable(f"{name}: port {container_port} not published on 127.0.0.1: {out}")

    def logs(self, name: str) -> str:
        result = docker("logs", "--tail", "200", name, check=False, timeout=60)
        return result.stdout + result.stderr

    def inspect(self, name: str) -> dict:
        return json.loads(docker("inspect", name).stdout)[0]


# ---------------------------------------------------------------------- compose and Swarm stack images (issue 22)
# The images docker-compose.yml names (`docker stack deploy` ignores build:), built from this work tree: variable ->
# (tag, Dockerfile, stage). Render before app: the app stage reuses the layers the render stage built.
STACK_IMAGES = {
    "RENDER_IMAGE": ("chat3d-render:test", "Dockerfile", "render"),
    "APP_IMAGE": ("chat3d-app:test", "Dockerfile", "app"),
    "PROXY_IMAGE": ("chat3d-proxy:test", "deploy/proxy/Dockerfile", None),
}
# The registry images the compose file defaults to, and the clearly named stand-ins built from Debian packages
# (deploy/postgres, deploy/redis: same variables, data directories and health checks) used when those cannot be
# pulled. `POSTGRES_IMAGE` / `REDIS_IMAGE` in the environment choose an image outright.
SERVICE_IMAGES = {
    "POSTGRES_IMAGE": ("postgres:15", "chat3d-standin-postgres:15", "deploy/postgres/Dockerfile"),
    "REDIS_IMAGE": ("redis:7", "chat3d-standin-redis:7", "deploy/redis/Dockerfile"),
}


def service_image(host: DockerHost, var: str) -> str:
    """The PostgreSQL or Redis image to run: the environment's choice, the official one when present or pullable,
    else the Debian stand-in (built once; Docker's layer cache makes later builds take seconds)."""
    official, standin, dockerfile = SERVICE_IMAGES[var]
    if os.environ.get(var):
        return os.environ[var]
    if image_exists(official) or docker("pull", official, check=False, timeout=300).returncode == 0:
        return official
    return host.build(standin, dockerfile)


def build_stack_images(host: DockerHost) -> dict[str, str]:
    """Every image docker-compose.yml names, as the variables it reads them from (APP_IMAGE=chat3d-app:test, ...).

    The render and app images are built one after the other (the app reuses the render stage's layers); the proxy and
    the stand-ins, small Debian package installs, are built beside them, which hides them in the app's build time."""
    host.base_image()  # once, before the builds that need it

    def chain() -> dict[str, str]:
        return {var: host.build(tag, dockerfile, target=target)
                for var, (tag, dockerfile, target) in STACK_IMAGES.items() if dockerfile == "Dockerfile"}

    with ThreadPoolExecutor(max_workers=4) as pool:
        jobs = [pool.submit(chain)]
        jobs += [pool.submit(lambda v=var, t=tag, d=dockerfile, g=target: {v: host.build(t, d, target=g)})
                 for var, (tag, dockerfile, target) in STACK_IMAGES.items() if dockerfile != "Dockerfile"]
        jobs += [pool.submit(lambda v=var: {v: service_image(host, v)}) for var in SERVICE_IMAGES]
        images: dict[str, str] = {}
        for job in jobs:
            images |= job.result()
    return images


class SessionImages:
    """The test session's Docker host and stack images, built in the background from the start of the session.

    A cold build takes minutes and the rest of the suite about twenty, so tests/conftest.py starts this as soon as
    the collection holds a test that needs Docker and moves those tests to the end: the build overlaps the suite
    instead of adding to it. The fixtures in tests/deploy/conftest.py wait for what they need; a failure is raised
    there, in the tests that need the images, not at the start of the session."""

    def __init__(self) -> None:
        self.host = DockerHost()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chat3d-image-build")
        self._daemon = self._pool.submit(self.host.ensure_daemon)
        self._images = self._pool.submit(build_stack_images, self.host)

    def ready_host(self) -> DockerHost:
        self._daemon.result()
        return self.host

    def images(self) -> dict[str, str]:
        return self._images.result()

    def close(self) -> None:
        self.host.stop_builds()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self.host.close()
