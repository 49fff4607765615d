"""``python -m promptsync``: the same as the ``promptsync`` command."""

from __future__ import annotations

from promptsync.cli import main

if __name__ == "__main__":
    main()
