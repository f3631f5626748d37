# Chat3D images, one Dockerfile with two targets that share their first layers (Debian packages, the Python
# environment with build123d/OCP, numpy, FastAPI): built once, they serve both images, which halves a cold build.
#   docker build --target render -t chat3d-render .   the sandboxed render service (render_service/)
#   docker build --target app -t chat3d-app .         the app (Reflex single port); also runs the workers
# The base is a build argument: the registry's python:3.11-slim-bookworm by default, or any Debian bookworm (the
# tests build on one made with debootstrap: tests/support/containers.py). Python packages go to /opt/venv.
ARG BASE_IMAGE=python:3.11-slim-bookworm
FROM --platform=linux/amd64 ${BASE_IMAGE} AS python

ARG PIP_RETRIES=5
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_RETRIES=${PIP_RETRIES} \
    PIP_DEFAULT_TIMEOUT=120 VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:${PATH}
# libseccomp2: the render workers' syscall filter; libgl1/libxrender1: shared libraries the OCP wheels link to.
# A plain Debian base has no Python: take Debian's python3 (3.11 on bookworm) and its venv module.
RUN apt-get update -o Acquire::Retries=5 \
    && apt-get install -y --no-install-recommends -o Acquire::Retries=5 libseccomp2 libgl1 libxrender1 ca-certificates \
    && if ! python3 -c 'import ensurepip' 2>/dev/null; then \
         apt-get install -y --no-install-recommends -o Acquire::Retries=5 python3 python3-venv; fi \
    && rm -rf /var/lib/apt/lists/*
# The render service's packages, at the versions pyproject.toml pins (the app needs them too).
# PEM text of extra CAs the build machine's network needs (a TLS-inspecting proxy); used by pip and the bun
# download only, not kept.
ARG EXTRA_CA_CERTS=""
RUN python3 -m venv /opt/venv \
    && cat /etc/ssl/certs/ca-certificates.crt > /tmp/build-ca.pem && printf '%s\n' "$EXTRA_CA_CERTS" >> /tmp/build-ca.pem \
    && PIP_CERT=/tmp/build-ca.pem pip install --retries "${PIP_RETRIES}" "build123d==0.13.0" "lib3mf==2.5.0" "numpy>=2.4,<3" \
       "fastapi>=0.165,<0.166" "uvicorn>=0.54,<0.55" "pillow>=12,<14" \
    && rm /tmp/build-ca.pem


# ---------------------------------------------------------------------------------------------------- render
# The service starts as root so that every job gets its own uid and its own namespaces; it needs only a few
# capabilities and a seccomp profile that lets it build those namespaces. Run it as docker-compose.yml does:
#   docker run --read-only --tmpfs /jobs:rw,size=2g,mode=0711 --tmpfs /tmp:rw,size=64m \
#     --cap-drop ALL --cap-add SETUID --cap-add SETGID --cap-add KILL \
#     --cap-add CHOWN --cap-add DAC_OVERRIDE --cap-add SYS_ADMIN \
#     --security-opt no-new-privileges --security-opt seccomp=render_service/seccomp.json \
#     --pids-limit 512 --memory 6g -e RENDER_SERVICE_TOKEN=... -p 127.0.0.1:8090:8090 chat3d-render
# Without that profile (Docker's default one refuses pivot_root, and every namespace call without SYS_ADMIN; Swarm
# ignores security_opt) the service falls back to its "minimal" sandbox: jobs still get one uid each, but no
# namespaces. docker-compose.yml sets RENDER_SANDBOX=namespaces so that it refuses to start instead.
# docs/render-sandbox.md ("What holds where", "Containers") says what holds in each case. The image holds the
# render service only (no app code or settings): a job may read its world-readable files.
FROM python AS render
ENV PYTHONDONTWRITEBYTECODE=1 RENDER_HOST=0.0.0.0 RENDER_PORT=8090 RENDER_WORK_DIR=/jobs/render
WORKDIR /app
COPY render_service /app/render_service
# Root on purpose (see above): the workers drop to per-job uids; the container drops every capability but those.
EXPOSE 8090
HEALTHCHECK --interval=30s --timeout=5s CMD ["python", "-c", "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8090/health').status != 200)"]
CMD ["python", "-m", "render_service"]


# ---------------------------------------------------------------------------------------------------- app
FROM python AS app
ENV REFLEX_USE_SYSTEM_BUN=1 REFLEX_TELEMETRY_ENABLED=false PATH="/app/.tools/bin:${PATH}"
RUN useradd --create-home --uid 10001 chat3d
WORKDIR /app
# The dependencies first, from pyproject.toml alone: a change to the code (or the README) then rebuilds only the
# layers below.
COPY pyproject.toml ./
ARG EXTRA_CA_CERTS=""
RUN python3 -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && cat /etc/ssl/certs/ca-certificates.crt > /tmp/build-ca.pem && printf '%s\n' "$EXTRA_CA_CERTS" >> /tmp/build-ca.pem \
    && PIP_CERT=/tmp/build-ca.pem pip install --retries "${PIP_RETRIES}" -r /tmp/requirements.txt \
    && rm /tmp/build-ca.pem /tmp/requirements.txt
# bun builds the frontend (Reflex needs no Node with it): one binary from the npm registry, checked against the
# registry's sha512, instead of Debian's npm and its few hundred node-* packages.
COPY scripts/install_bun.py /tmp/install_bun.py
RUN cat /etc/ssl/certs/ca-certificates.crt > /tmp/build-ca.pem && printf '%s\n' "$EXTRA_CA_CERTS" >> /tmp/build-ca.pem \
    && PIP_CERT=/tmp/build-ca.pem python3 /tmp/install_bun.py .tools/bin/bun \
    && rm /tmp/build-ca.pem /tmp/install_bun.py
COPY . .
RUN cat /etc/ssl/certs/ca-certificates.crt > /tmp/build-ca.pem && printf '%s\n' "$EXTRA_CA_CERTS" >> /tmp/build-ca.pem \
    && PIP_CERT=/tmp/build-ca.pem pip install --retries "${PIP_RETRIES}" --no-deps . \
    && rm /tmp/build-ca.pem
# Reflex keeps its own state (REFLEX_DIR, default ~/.local/share/reflex) beside the app: the build runs as root and
# the app as chat3d, and without it `reflex run` took the app for uninitialised and reinstalled the frontend
# packages from the network at every start (a container without internet access never came up).
# The frontend is exported for production (CHAT3D_ENV decides which pages, and so which states, exist: a frontend
# built with the development pages is refused by a production backend as "built for another version of the app",
# and nothing on the page works; nor is the viewer's test hook compiled in). The export would call the backend at
# localhost:3000 (Reflex bakes api_url in at build time); scripts/frontend_same_origin.py makes it call the address
# the page came from, whatever the proxy publishes.
ENV REFLEX_DIR=/app/.reflex-home CHAT3D_ENV=production
RUN cat /etc/ssl/certs/ca-certificates.crt > /tmp/build-ca.pem && printf '%s\n' "$EXTRA_CA_CERTS" >> /tmp/build-ca.pem \
    && NODE_EXTRA_CA_CERTS=/tmp/build-ca.pem reflex export --frontend-only --no-zip \
    && rm /tmp/build-ca.pem \
    && python scripts/frontend_same_origin.py .web/build/client \
    && mkdir -p /data && chown -R chat3d /app /data
USER chat3d
EXPOSE 3000
# The frontend built above, served with the backend on one port; `reflex run --env prod` would rebuild it at every
# start (scripts/serve_prod.py says why not).
CMD ["python", "scripts/serve_prod.py"]
