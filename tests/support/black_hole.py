"""A loopback port that completes TCP connections and never says a word: a database host whose
packets go nowhere once connected (a hung server, a firewall that drops what follows)."""

from __future__ import annotations

import socket
from types import TracebackType
from typing import Self


class BlackHole:
    """Listens on 127.0.0.1 and never accepts: the kernel completes each handshake into the
    backlog, so a client connects and then waits forever for an answer. close() resets them."""

    def __init__(self, backlog: int = 64) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(backlog)
        self.port = int(self.sock.getsockname()[1])

    def postgres_url(self, database: str = "promptsync") -> str:
        """A DATABASE_URL whose host:port is this black hole."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def close(self) -> None:
        """Stop listening: connections still waiting in the backlog are reset."""
        self.sock.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
