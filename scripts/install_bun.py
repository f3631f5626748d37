"""Install bun (Reflex builds the frontend with it) from the npm registry, without npm or Node.

Reflex's own bun download comes from GitHub, which these machines cannot reach; the npm registry carries the same
binaries as `@oven/bun-<platform>` packages. This fetches the tarball for this machine, checks it against the
registry's published sha512, and puts `bin/bun` at the given path. Used by scripts/setup.sh and the app image
(Dockerfile), so neither needs Debian's npm (and its few hundred node-* packages) for one binary.

    python3 scripts/install_bun.py .tools/bin/bun

Standard library only: it runs in the image before the app's packages are installed. `NPM_CONFIG_REGISTRY` picks
another registry; `PIP_CERT` / `SSL_CERT_FILE` extra CAs (the image build hands them in).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import platform
import ssl
import sys
import tarfile
import time
import urllib.request
from pathlib import Path

BUN_VERSION = "1.4.5"  # ≥ Reflex 0.10.1's minimum (1.4.4); the one place this version is named
REGISTRY = os.environ.get("NPM_CONFIG_REGISTRY", "https://registry.npmjs.org").rstrip("/")


def package_name() -> str:
    machine = platform.machine()
    if machine in ("aarch64", "arm64"):
        return "@oven/bun-linux-aarch64"
    if machine not in ("x86_64", "amd64"):
        sys.exit(f"install_bun: no bun build for {machine}")
    # bun's default x64 build needs AVX2; the baseline build runs on any x86-64 (what bun's own installer picks).
    flags = Path("/proc/cpuinfo").read_text(encoding="utf-8") if Path("/proc/cpuinfo").exists() else ""
    return "@oven/bun-linux-x64" if " avx2" in flags else "@oven/bun-linux-x64-baseline"


def fetch(url: str, context: ssl.SSLContext, attempts: int = 5) -> bytes:
    for attempt in range(1, attempts + 1):
        try:
            with urllib.request.urlopen(url, timeout=120, context=context) as resp:
                return resp.read()
        except OSError as exc:
            if attempt == attempts:
                sys.exit(f"install_bun: {url}: {exc}")
            time.sleep(2 * attempt)
    raise AssertionError("unreachable")


def main(version: str, dest: str) -> None:
    cafile = os.environ.get("PIP_CERT") or os.environ.get("SSL_CERT_FILE")
    context = ssl.create_default_context(cafile=cafile)
    name = package_name()
    meta = json.loads(fetch(f"{REGISTRY}/{name.replace('/', '%2F')}/{version}", context))
    algorithm, _, digest = meta["dist"]["integrity"].partition("-")
    if algorithm != "sha512":
        sys.exit(f"install_bun: unexpected integrity {algorithm!r} for {name}@{version}")
    tarball = fetch(meta["dist"]["tarball"], context)
    if hashlib.sha512(tarball).digest() != base64.b64decode(digest):
        sys.exit(f"install_bun: {name}@{version} does not match the registry's sha512")
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        binary = archive.extractfile("package/bin/bun")
        if binary is None:
            sys.exit(f"install_bun: {name}@{version} has no package/bin/bun")
        data = binary.read()
    target = Path(dest)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    partial.write_bytes(data)
    partial.chmod(0o755)
    partial.replace(target)
    print(f"bun {version} ({name}) -> {target}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(BUN_VERSION, sys.argv[1])
