"""The app image's command: the backend and the frontend built into the image, on one port (Reflex 0.10.1).

`reflex run --env prod --single-port` compiles the app and rebuilds the whole frontend (`bun run export`, with its
prerender step) at every start: minutes of CPU per container, and on a busy host the prerender timed out and the
app never came up. The image already holds that build (`reflex export --frontend-only` in the Dockerfile), so this
does what `reflex run` does after its build step (reflex/reflex.py `_run` and `_run_prod`): production mode, the
port in the config, compile skipped, and the backend (granian, GRANIAN_WORKERS processes) serving the built
frontend.
"""

from __future__ import annotations

import os

from reflex import constants
from reflex.config import get_config
from reflex.istate.manager import reset_disk_state_manager
from reflex.utils import exec as rx_exec
from reflex_base.environment import environment


def main() -> None:
    port = 3000  # the image's EXPOSE; compose publishes it through the proxy
    host = os.environ.get("CHAT3D_HOST", "0.0.0.0")
    environment.REFLEX_ENV_MODE.set(constants.Env.PROD)
    environment.REFLEX_SKIP_COMPILE.set(True)
    if not (rx_exec.get_web_dir() / "build" / "client").is_dir():
        raise SystemExit("no built frontend in .web/build/client: run `reflex export --frontend-only --no-zip` first")
    reset_disk_state_manager()
    config = get_config()
    config._set_persistent(frontend_port=port, backend_port=port)
    rx_exec.run_backend_prod(host, port, config.loglevel.subprocess_level(), mount_frontend_compiled_app=True)


if __name__ == "__main__":
    main()
