"""Property-based fuzzing of the REST API from its own OpenAPI document (schemathesis, ASGI transport).

Three callers, each over the operations it may use: an anonymous client over the public routes, a
signed-in user over every non-admin route, an admin over `/api/admin/*` and invitations (admins are not
quota-bound there). Every generated request — valid and invalid — must:

* never get a 5xx (`not_a_server_error`), and always an `{"error"}` body for a 4xx;
* get a JSON body that conforms to the declared response schema when the status is documented
  (`response_schema_conformance`, `content_type_conformance`).

The routes document only their success codes (and 422), so `status_code_conformance` is not run: error
statuses are the app's `{"error"}` answers (400/401/403/404/409/429). That is listed in the report, not
fixed here. Findings that are known and reported would live in `KNOWN_FINDINGS` with the reason (none at the
time of writing); the suite fails on any new one.

`FUZZ_MAX_EXAMPLES` (default 20) sets examples per operation; `FUZZ_REPORT=<path>` writes a JSON summary
(used by bench/fuzz_bench.py for the long run). `GET /api/events/stream` is excluded (an endless SSE
response; tests/events covers it) and so is `GET /api/docs` (HTML for humans).
"""

from __future__ import annotations

import atexit
import json
import os
import re
import threading
import uuid
import warnings
from collections import Counter, defaultdict
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import content_type_conformance, not_a_server_error, response_schema_conformance
from sqlmodel import Session

from chat3d.db.engine import engine_for, get_engine
from chat3d.db.models import Role, User
from chat3d.domain.passwords import hash_password
from chat3d.domain.ratelimit import reset_rate_limits
from chat3d.domain.sessions import start_session
from chat3d.pipeline.jobs import set_jobs
from chat3d.settings import reset_settings_cache
from tests.conftest import TEMPLATE_DB, _admin_exec, database_url_for

MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "20"))
EXCLUDED = r"^/api/(events/stream|docs)$"

# (method, path, check name) -> why it is known. Reported in the final report; not fixed here because the
# routes belong to other engineers. Keep it empty when nothing is known.
KNOWN_FINDINGS: dict[tuple[str, str, str], str] = {}
# Known 500s, each shown by its own strict-xfail test: (predicate on the case, the test that shows it). The
# one found here (`?offset=` past bigint → 500) is fixed; tests/security/test_input_bounds.py guards it.
KNOWN_SERVER_ERRORS: list[tuple] = []


class NoJobs:
    """Queries are stored but not run: the fuzzer tests the HTTP layer, not the pipeline."""

    async def enqueue(self, query_id: uuid.UUID) -> None:
        pass

    async def cancel(self, query_id: uuid.UUID) -> None:
        pass

    def running(self) -> set[uuid.UUID]:
        return set()

    async def close(self) -> None:
        pass


_lock = threading.Lock()
STATS: dict[str, Counter] = defaultdict(Counter)  # "METHOD path" -> status counts
FINDINGS: dict[tuple[str, str, str], list[str]] = defaultdict(list)


def _write_report() -> None:
    path = os.environ.get("FUZZ_REPORT")
    if not path or not STATS:
        return
    body = {
        "max_examples": MAX_EXAMPLES,
        "operations": len(STATS),
        "requests": sum(sum(c.values()) for c in STATS.values()),
        "status_counts": dict(sum(STATS.values(), Counter())),
        "server_errors": sum(c for counts in STATS.values() for s, c in counts.items() if int(s) >= 500),
        "findings": [{"method": m, "path": p, "check": k, "examples": v[:3]} for (m, p, k), v in FINDINGS.items()],
        "per_operation": {op: dict(c) for op, c in sorted(STATS.items())},
    }
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(body, fh, indent=1, default=str)


atexit.register(_write_report)


@pytest.fixture(scope="module")
def fuzz_stack(pg_admin_url: str, migrated_template: str, tmp_path_factory) -> Iterator[dict]:
    """One database and one app for the module (a database per example would dominate the run time)."""
    name = f"chat3d_fz_{uuid.uuid4().hex[:10]}"
    _admin_exec(pg_admin_url, f"CREATE DATABASE {name} TEMPLATE {TEMPLATE_DB}")
    url = database_url_for(pg_admin_url, name)
    mp = pytest.MonkeyPatch()
    env = {
        "DATABASE_URL": url, "DATA_DIR": str(tmp_path_factory.mktemp("fuzz")), "CHAT3D_ENV": "test",
        "BCRYPT_ROUNDS": "4", "JWT_SECRET": "fuzz-secret-of-at-least-thirty-two-bytes",
        "RENDER_SERVICE_URL": "http://127.0.0.1:9",
        # The admin console's connection test must not reach a vendor from the suite: a key the fuzzer stores
        # without a server address falls back to these closed local ports.
        "OPENAI_BASE_URL": "http://127.0.0.1:9/v1", "ANTHROPIC_BASE_URL": "http://127.0.0.1:9",
        "XAI_BASE_URL": "http://127.0.0.1:9/v1",
        "RATE_LIMIT_API": "100000/minute", "RATE_LIMIT_LOGIN": "100000/minute", "RATE_LIMIT_REGISTER": "100000/minute",
    }
    for key, value in env.items():
        mp.setenv(key, value)
    mp.delenv("REDIS_URL", raising=False)
    reset_settings_cache()
    reset_rate_limits()
    set_jobs(NoJobs())  # type: ignore[arg-type]
    with Session(get_engine(), expire_on_commit=False) as s:
        user = User(email="fuzz-user@example.com", password_hash=hash_password("fuzz password 1"))
        admin = User(email="fuzz-admin@example.com", password_hash=hash_password("fuzz password 1"), role=Role.admin.value)
        s.add_all([user, admin])
        s.commit()
    from chat3d.api import create_api

    try:
        yield {"app": create_api(), "user": user, "admin": admin}
    finally:
        set_jobs(None)
        reset_rate_limits()
        mp.undo()
        reset_settings_cache()
        engine_for(url).dispose()
        engine_for.cache_clear()
        _admin_exec(pg_admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="module")
def api_schema(fuzz_stack):
    return schemathesis.openapi.from_asgi("/api/openapi.json", fuzz_stack["app"])


FUZZ_SETTINGS = settings(
    max_examples=MAX_EXAMPLES, deadline=None, derandomize=os.environ.get("FUZZ_RANDOM") != "1",
    phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck), database=None,
)


def _operations(pattern: str, exclude: str | None = None) -> list[tuple[str, str]]:
    """(method, path) of the operations in the app's OpenAPI document whose path matches (built without a database)."""
    from chat3d.api import create_api

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # FastAPI's duplicate-operation-id warning for GET+HEAD routes (reported)
        doc = create_api().openapi()
    found = []
    for path, item in doc["paths"].items():
        if re.search(EXCLUDED, path) or not re.search(pattern, path) or (exclude and re.search(exclude, path)):
            continue
        found += [(method.upper(), path) for method in item if method in {"get", "head", "post", "put", "patch", "delete"}]
    return sorted(found)


def _token(user: User) -> str:
    """A fresh session per example: a fuzzed logout or revoke-others must not end the next example's session."""
    with Session(get_engine(), expire_on_commit=False) as s:
        token = start_session(s, s.get(User, user.id), ip="127.0.0.1", user_agent="fuzz")
        s.commit()
    return token


def _known_server_error(case) -> str | None:
    return next((test for predicate, test in KNOWN_SERVER_ERRORS if predicate(case)), None)


def _run(case, headers: dict[str, str]) -> None:
    op = f"{case.method.upper()} {case.operation.path}"
    try:
        response = case.call(headers=headers)
    except Exception as exc:  # the ASGI transport re-raises an unhandled server exception: a 500
        known = _known_server_error(case)
        with _lock:
            STATS[op]["500"] += 1
            FINDINGS[(case.method.upper(), case.operation.path, f"500 known: {known}" if known else "500")].append(repr(exc)[:300])
        if known:
            return
        raise
    with _lock:
        STATS[op][str(response.status_code)] += 1
    problems = []
    if response.status_code >= 500 and _known_server_error(case):
        with _lock:
            FINDINGS[(case.method.upper(), case.operation.path, f"500 known: {_known_server_error(case)}")].append(response.text[:300])
        return
    if response.status_code >= 500:
        problems.append(f"{response.status_code} {response.text[:300]}")
    elif response.status_code >= 400 and case.method.upper() != "HEAD" and "error" not in (response.json() or {}):
        problems.append(f"{response.status_code} without an error body: {response.text[:200]}")
    for check in (not_a_server_error, response_schema_conformance, content_type_conformance):
        try:
            case.validate_response(response, checks=[check])
        except Exception as exc:  # a schemathesis FailureGroup
            key = (case.method.upper(), case.operation.path, check.__name__)
            with _lock:
                FINDINGS[key].append(f"{response.status_code}: {str(exc)[:400]}")
            if key not in KNOWN_FINDINGS:
                problems.append(f"{check.__name__}: {str(exc)[:600]}")
    assert not problems, f"{op} {case.path_parameters} {case.query} {case.body!r:.300}: {problems}"


def _fuzz(api_schema, method: str, path: str, headers) -> None:
    """Hypothesis over one operation (schemathesis' own pytest plugin does not run on pytest 9)."""
    strategy = api_schema[path][method].as_strategy()

    @FUZZ_SETTINGS
    @given(strategy)
    def run(case) -> None:
        _run(case, headers())

    run()


PUBLIC = "^/(health|ready)$|^/api/(openapi.json|public/|share/|waitlist/|auth/(register|login|logout|password-reset/)|profile/(reactivate|actions/))"


@pytest.mark.parametrize("method, path", _operations(PUBLIC))
def test_fuzz_public_routes_anonymously(api_schema, method: str, path: str) -> None:
    _fuzz(api_schema, method, path, dict)


@pytest.mark.parametrize("method, path", _operations("^/", exclude="^/api/admin/"))
def test_fuzz_as_a_signed_in_user(api_schema, fuzz_stack, method: str, path: str) -> None:
    _fuzz(api_schema, method, path, lambda: {"Authorization": f"Bearer {_token(fuzz_stack['user'])}"})


@pytest.mark.parametrize("method, path", _operations("^/api/(admin/|invitations)"))
def test_fuzz_as_an_admin(api_schema, fuzz_stack, method: str, path: str) -> None:
    _fuzz(api_schema, method, path, lambda: {"Authorization": f"Bearer {_token(fuzz_stack['admin'])}"})
