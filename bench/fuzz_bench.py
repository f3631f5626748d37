"""The long fuzzing run: tests/security/test_fuzz.py with many more examples per operation, randomised.

    python -m bench.fuzz_bench [--examples 100] [--seeded]

Runs the same three callers (anonymous, user, admin) as the test suite, against a throwaway PostgreSQL
database, with `FUZZ_MAX_EXAMPLES` examples per operation (default 100; the suite uses 20) and a random
seed (`--seeded` keeps hypothesis' derandomised seed). Also counts the operations whose declared success
schema is untyped (`dict[str, Any]` answers: the conformance check cannot say anything about them).
Prints a markdown table and writes bench/results/fuzz.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
RESULTS = REPO / "bench" / "results" / "fuzz.json"


def untyped_operations() -> list[str]:
    from chat3d.api import create_api

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        doc = create_api().openapi()
    out = []
    for path, item in doc["paths"].items():
        for method, op in item.items():
            ok = next((r for code, r in op.get("responses", {}).items() if code.startswith("2")), None)
            schema = ((ok or {}).get("content") or {}).get("application/json", {}).get("schema")
            if schema is not None and "$ref" not in schema and schema.get("type") in (None, "object") \
                    and not schema.get("properties") and not schema.get("allOf"):
                out.append(f"{method.upper()} {path}")
    return sorted(out)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--examples", type=int, default=100)
    parser.add_argument("--seeded", action="store_true", help="hypothesis' fixed seed, as in the suite")
    args = parser.parse_args()

    os.environ.setdefault("CHAT3D_ENV", "test")
    with tempfile.TemporaryDirectory(prefix="chat3d-fuzz-") as tmp:
        report = Path(tmp) / "fuzz.json"
        env = dict(os.environ, FUZZ_MAX_EXAMPLES=str(args.examples), FUZZ_REPORT=str(report),
                   FUZZ_RANDOM="0" if args.seeded else "1")
        started = time.monotonic()
        proc = subprocess.run([sys.executable, "-m", "pytest", "tests/security/test_fuzz.py", "-q", "-p", "no:warnings",
                               "-p", "no:cacheprovider", "--timeout=3600"], cwd=REPO, env=env)
        elapsed = time.monotonic() - started
        body = json.loads(report.read_text(encoding="utf-8")) if report.exists() else {}
    body |= {"elapsed_s": round(elapsed, 1), "pytest_exit_code": proc.returncode,
             "untyped_success_schemas": untyped_operations()}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(body, indent=1), encoding="utf-8")

    known = [f for f in body.get("findings", []) if f["check"].startswith("500 known")]
    new = [f for f in body.get("findings", []) if not f["check"].startswith("500 known")]
    print("| metric | value |\n| --- | --- |")
    print(f"| examples per operation (max) | {args.examples} |")
    print(f"| operations fuzzed | {body.get('operations', 0)} |")
    print(f"| requests | {body.get('requests', 0)} |")
    print(f"| 5xx answers | {body.get('server_errors', 0)} (known, xfail-tested: {len(known)} operations) |")
    print(f"| new findings | {len(new)} |")
    print(f"| operations with an untyped success schema | {len(body['untyped_success_schemas'])} |")
    print(f"| time | {elapsed:.0f} s |")
    for f in new:
        print(f"- NEW {f['method']} {f['path']} [{f['check']}]: {f['examples'][:1]}")
    sys.exit(proc.returncode)


if __name__ == "__main__":
    main()
