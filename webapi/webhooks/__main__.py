"""`python -m webapi.webhooks`: the webhook worker, configured from the environment like the
server (DATABASE_URL, WEBHOOK_ALLOW_PRIVATE); the same as `flask --app webapi webhooks run`."""

from __future__ import annotations

import logging
import sys

from webapi import create_app
from webapi.config import ConfigurationError
from webapi.webhooks.worker import serve


def main() -> int:
    """Run one worker until SIGTERM or SIGINT."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        app = create_app()
    except ConfigurationError as exc:  # a missing SECRET_KEY: one line, not a traceback
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    serve(app)
    return 0


if __name__ == "__main__":
    sys.exit(main())
