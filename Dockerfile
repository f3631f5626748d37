# Chat3D app image (Reflex single port) — also runs the workers with a different command.
# The base is a build argument: the registry's python:3.11-slim-bookworm by default, or any Debian bookworm (the
# tests build on one made with debootstrap: tests/support/containers.py). Python packages go to /opt/venv.
ARG BASE_IMAGE=python:3.11-slim-bookworm
FROM --platform=linux/amd64 ${BASE_IMAGE}

ARG PIP_RETRIES=5
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_RETRIES=${PIP_RETRIES} \
    PIP_DEFAULT_TIMEOUT=120 REFLEX_USE_SYSTEM_BUN=1 REFLEX_TELEMETRY_ENABLED=false \
    VIRTUAL_ENV=/opt/venv PATH="/opt/venv/bin:/app/.tools/node_modules/.bin:${PATH}"
# A plain Debian base has no Python (or only the one nodejs pulls in): take Debian's python3 (3.11 on bookworm)
# and its venv module.
RUN apt-get update -o Acquire::Retries=5 \
    && apt-get install -y --no-install-recommends -o Acquire::Retries=5 nodejs npm unzip ca-certificates \
    && if ! python3 -c 'import ensurepip' 2>/dev/null; then \
         apt-get install -y --no-install-recommends -o Acquire::Retries=5 python3 python3-venv; fi \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 chat3d
WORKDIR /app
# The dependencies first, from pyproject.toml alone: a change to the code then rebuilds only the layers below.
COPY pyproject.toml README.md ./
# PEM text of extra CAs the build machine's network needs (a TLS-inspecting proxy); used by pip and npm only.
ARG EXTRA_CA_CERTS=""
RUN python3 -m venv /opt/venv \
    && python3 -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && cat /etc/ssl/certs/ca-certificates.crt > /tmp/build-ca.pem && printf '%s\n' "$EXTRA_CA_CERTS" >> /tmp/build-ca.pem \
    && PIP_CERT=/tmp/build-ca.pem pip install --retries "${PIP_RETRIES}" -r /tmp/requirements.txt \
    && rm /tmp/build-ca.pem /tmp/requirements.txt
RUN cat /etc/ssl/certs/ca-certificates.crt > /tmp/build-ca.pem && printf '%s\n' "$EXTRA_CA_CERTS" >> /tmp/build-ca.pem \
    && NODE_EXTRA_CA_CERTS=/tmp/build-ca.pem npm install --prefix .tools --no-audit --no-fund --fetch-retries=5 bun@1.4.5 \
    && rm /tmp/build-ca.pem
COPY . .
RUN cat /etc/ssl/certs/ca-certificates.crt > /tmp/build-ca.pem && printf '%s\n' "$EXTRA_CA_CERTS" >> /tmp/build-ca.pem \
    && PIP_CERT=/tmp/build-ca.pem pip install --retries "${PIP_RETRIES}" --no-deps . \
    && rm /tmp/build-ca.pem
# Reflex keeps its own state (REFLEX_DIR, default ~/.local/share/reflex) beside the app: the build runs as root and
# the app as chat3d, and without it `reflex run` took the app for uninitialised and reinstalled the frontend
# packages from the network at every start (a container without internet access never came up).
ENV REFLEX_DIR=/app/.reflex-home
# Compiled as a production build (CHAT3D_ENV=production): no development pages, no viewer test hook.
RUN cat /etc/ssl/certs/ca-certificates.crt > /tmp/build-ca.pem && printf '%s\n' "$EXTRA_CA_CERTS" >> /tmp/build-ca.pem \
    && CHAT3D_ENV=production NODE_EXTRA_CA_CERTS=/tmp/build-ca.pem reflex export --frontend-only --no-zip \
    && rm /tmp/build-ca.pem \
    && mkdir -p /data && chown -R chat3d /app /data
USER chat3d
EXPOSE 3000
# The frontend built above, served with the backend on one port; `reflex run --env prod` would rebuild it at every
# start (scripts/serve_prod.py says why not).
CMD ["python", "scripts/serve_prod.py"]
