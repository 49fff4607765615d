"""`python -m webapi.webhooks`: the webhook worker, configured from the environment like the
server (DATABASE_URL, WEBHOOK_ALLOW_PRIVATE); the same as `flask --app webapi webhooks run`."""

from __future__ import annotations

import logging
import sys

from webapi import create_app
from webapi.webhooks.worker import serve


def main() -> int:
    """Run one worker until SIGTERM or SIGINT."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    serve(create_app())
    return 0


if __name__ == "__main__":
    sys.exit(main())
