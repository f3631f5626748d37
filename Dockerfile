# Chat3D app image (Reflex single port) — also runs the workers with a different command.
FROM --platform=linux/amd64 python:3.11-slim

ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 REFLEX_USE_SYSTEM_BUN=1 REFLEX_TELEMETRY_ENABLED=false \
    PATH="/app/.tools/node_modules/.bin:${PATH}"
RUN apt-get update \
    && apt-get install -y --no-install-recommends nodejs npm unzip \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 chat3d
WORKDIR /app
COPY pyproject.toml README.md ./
COPY chat3d ./chat3d
COPY render_service ./render_service
RUN pip install --no-cache-dir .
COPY . .
RUN npm install --prefix .tools --no-audit --no-fund bun@1.4.5 \
    && reflex export --frontend-only --no-zip \
    && mkdir -p /data && chown -R chat3d /app /data
USER chat3d
EXPOSE 3000
CMD ["reflex", "run", "--env", "prod", "--single-port", "--backend-port", "3000", "--frontend-port", "3000"]
