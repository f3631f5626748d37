"""Service settings, read once from the environment (RENDER_*).

Kept as a plain frozen dataclass so the zygote can receive the same values as JSON
without importing FastAPI or pydantic in the process that forks workers.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from dataclasses import dataclass


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw else default


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    return raw not in ("0", "off", "false", "no")


def _env_secret(name: str) -> str:
    """`name`, or the file `name`_FILE points at (a Swarm secret); rules as chat3d.settings.read_secret_file."""
    plain = os.environ.get(name, "").strip()
    path = os.environ.get(f"{name}_FILE", "").strip()
    if not path:
        return plain
    try:
        with open(path, encoding="utf-8") as fh:
            value = fh.read().strip()
    except FileNotFoundError:
        if plain:
            return plain
        raise ValueError(f"{name}_FILE={path} does not exist and {name} is empty") from None
    if plain:
        raise ValueError(f"both {name} and {name}_FILE ({path}) are set; set only one")
    if not value:
        raise ValueError(f"{name}_FILE={path} is empty")
    return value


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8090
    timeout_cap_s: float = 60.0
    memory_mb: int = 2048
    max_output_mb: int = 50
    max_code_kb: int = 256
    max_input_files: int = 4
    max_input_mb: int = 32
    pool_size: int = 2  # jobs that each get a CPU
    burst_slots: int = 2  # more jobs that may run beside ones that have run long_job_s (see app.Admission)
    long_job_s: float = 0.5
    job_slice_ms: float = 20.0  # scheduler time slice asked for each worker (see sandbox.set_time_slice)
    queue_size: int = 8
    per_user_jobs: int = 2
    precheck: bool = True
    work_dir: str = ""
    sandbox: str = "auto"  # auto | namespaces | minimal
    uid_base: int = 0  # first job uid as root; 0: a random block per service (sandbox.choose_uid_base)
    nproc: int = 64
    nofile: int = 256
    log_cap_kb: int = 64
    retry_after_s: int = 2
    job_disk_mb: int = 128  # total bytes a job's folder may hold (0: no budget; see docs/render-sandbox.md)
    # Shared secret the app sends as `Authorization: Bearer ...`; never passed to the zygote.
    service_token: str = dataclasses.field(default="", repr=False)
    allow_anonymous: bool = False  # test settings only (CHAT3D_ENV=test): /render without a token

    @classmethod
    def from_env(cls) -> Settings:
        pool = _env_int("RENDER_POOL_SIZE", os.cpu_count() or 1)
        work_dir = os.environ.get("RENDER_WORK_DIR", "").strip()
        if not work_dir:
            work_dir = tempfile.mkdtemp(prefix="chat3d-render-")
        return cls(
            host=os.environ.get("RENDER_HOST", "127.0.0.1"),
            port=_env_int("RENDER_PORT", 8090),
            timeout_cap_s=_env_float("RENDER_TIMEOUT_CAP_S", 60.0),
            memory_mb=_env_int("RENDER_MEMORY_MB", 2048),
            max_output_mb=_env_int("RENDER_MAX_OUTPUT_MB", 50),
            max_code_kb=_env_int("RENDER_MAX_CODE_KB", 256),
            max_input_files=max(0, _env_int("RENDER_MAX_INPUT_FILES", 4)),
            max_input_mb=max(1, _env_int("RENDER_MAX_INPUT_MB", 32)),
            pool_size=max(1, pool),
            burst_slots=max(0, _env_int("RENDER_BURST_SLOTS", max(1, pool))),
            long_job_s=max(0.0, _env_float("RENDER_LONG_JOB_S", 0.5)),
            job_slice_ms=max(0.0, _env_float("RENDER_JOB_SLICE_MS", 20.0)),
            queue_size=max(0, _env_int("RENDER_QUEUE_SIZE", 4 * max(1, pool))),
            per_user_jobs=max(1, _env_int("RENDER_PER_USER_JOBS", 2)),
            precheck=_env_bool("RENDER_PRECHECK", True),
            work_dir=work_dir,
            sandbox=os.environ.get("RENDER_SANDBOX", "auto").strip().lower() or "auto",
            uid_base=max(0, _env_int("RENDER_SANDBOX_UID_BASE", 0)),
            nproc=_env_int("RENDER_NPROC", 64),
            nofile=_env_int("RENDER_NOFILE", 256),
            log_cap_kb=_env_int("RENDER_LOG_CAP_KB", 64),
            retry_after_s=_env_int("RENDER_RETRY_AFTER_S", 2),
            job_disk_mb=max(0, _env_int("RENDER_JOB_DISK_MB", 128)),
            service_token=_env_secret("RENDER_SERVICE_TOKEN"),
            allow_anonymous=os.environ.get("CHAT3D_ENV", "").strip().lower() == "test",
        )

    def to_json(self) -> str:
        """For the zygote: everything but the token (it never needs it)."""
        return json.dumps(dataclasses.asdict(self) | {"service_token": ""})

    @classmethod
    def from_json(cls, raw: str) -> Settings:
        return cls(**json.loads(raw))
