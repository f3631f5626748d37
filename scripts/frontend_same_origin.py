"""Make an exported Reflex frontend call the backend at the address the page was loaded from.

`reflex export` bakes the backend's URLs (`api_url`, default http://localhost:3000) into a small module of the
build (`assets/reflex-env-*.js`, from .web/env.json). Reflex's frontend swaps in the page's host name only, keeping
port 3000, so a deployment published on another port (the proxy's `PORT`, 80, or a test's free port) loaded its
pages but its websocket went to port 3000: sign-in and every other event did nothing. The app image serves the
frontend and the backend on one port behind one proxy, so the page's own origin is always right; this rewrites the
module's `localhost` URLs to `location.origin` (ws/wss for the websocket), once, after the export, and its
precompressed copies (the backend serves `<file>.gz` to browsers that accept gzip; other encodings are removed so
none is served stale).

Usage: python scripts/frontend_same_origin.py .web/build/client
"""

from __future__ import annotations

import gzip
import re
import sys
from pathlib import Path

# A template literal such as `ws://localhost:3000/_event` (the export writes them with backticks).
_URL = re.compile(r"`(https?|wss?)://localhost:\d+(/[^`]*)`")
_ORIGIN = {
    "http": "${location.origin}",
    "https": "${location.origin}",
    "ws": '${location.protocol==="https:"?"wss:":"ws:"}//${location.host}',
    "wss": '${location.protocol==="https:"?"wss:":"ws:"}//${location.host}',
}


def rewrite(text: str) -> str:
    return _URL.sub(lambda m: f"`{_ORIGIN[m.group(1)]}{m.group(2)}`", text)


def main(build_dir: str) -> None:
    modules = sorted(Path(build_dir, "assets").glob("reflex-env-*.js"))
    if not modules:
        raise SystemExit(f"no assets/reflex-env-*.js under {build_dir}: not a Reflex export?")
    for module in modules:
        before = module.read_text(encoding="utf-8")
        after = rewrite(before)
        if "localhost" in after or after == before:
            raise SystemExit(f"{module}: unexpected backend URLs, left as they were:\n{before[:500]}")
        module.write_text(after, encoding="utf-8")
        for sidecar in module.parent.glob(module.name + ".*"):
            if sidecar.suffix == ".gz":
                sidecar.write_bytes(gzip.compress(after.encode(), mtime=0))
            else:
                sidecar.unlink()
        print(f"{module}: backend URLs now relative to the page's origin")


if __name__ == "__main__":
    main(sys.argv[1])
