"""One webhook POST: to the checked address (not the name again), redirects not followed,
bounded in time and in how much of the answer is read."""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from dataclasses import dataclass

from webapi.webhooks.guard import Target

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 10.0  # the whole answer, headers and body, within this
MAX_RESPONSE = 64 * 1024  # read at most this much of the answer, then hang up


@dataclass(frozen=True)
class Outcome:
    """What one attempt got: a status code (2xx is success) or the error that stopped it."""

    status: int | None
    error: str | None
    seconds: float

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class _Pinned(http.client.HTTPSConnection):
    """HTTPS to a fixed address, with the certificate checked against the URL's host name."""

    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout,
                         context=ssl.create_default_context())
        self._address = target.address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def _connection(target: Target) -> http.client.HTTPConnection:
    if target.scheme == "https":
        return _Pinned(target, CONNECT_TIMEOUT)
    return http.client.HTTPConnection(target.address, target.port, timeout=CONNECT_TIMEOUT)


def _host_header(target: Target) -> str:
    host = f"[{target.host}]" if ":" in target.host else target.host
    default = 443 if target.scheme == "https" else 80
    return host if target.port == default else f"{host}:{target.port}"


def _drain(response: http.client.HTTPResponse, connection: http.client.HTTPConnection,
           deadline: float) -> None:
    """Read at most MAX_RESPONSE bytes of the answer by the deadline (a receiver trickling
    bytes cannot hold the worker): the body is not used, only a clean close."""
    read = 0
    while read < MAX_RESPONSE:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the receiver answered too slowly")
        if connection.sock is not None:
            connection.sock.settimeout(left)
        chunk = response.read1(min(8192, MAX_RESPONSE - read))
        if not chunk:
            return
        read += len(chunk)


def post(target: Target, headers: dict[str, str], body: bytes) -> Outcome:
    """POST body to target; never raises for what the network or the receiver does."""
    started = time.monotonic()
    connection = _connection(target)
    try:
        connection.connect()
        # After connecting, the read timeout: each recv waits at most what is left of it.
        assert connection.sock is not None
        connection.sock.settimeout(READ_TIMEOUT)
        connection.putrequest("POST", target.path, skip_host=True, skip_accept_encoding=True)
        for name, value in {**headers, "Host": _host_header(target),
                            "Content-Length": str(len(body)), "Connection": "close"}.items():
            connection.putheader(name, value)
        connection.endheaders(body)
        response = connection.getresponse()
        _drain(response, connection, started + READ_TIMEOUT)
        status = response.status
        error = None
        if 300 <= status < 400:
            error = f"a redirect ({status}) is not followed: give the final URL"
        elif not 200 <= status < 300:
            error = f"the receiver answered {status}"
        return Outcome(status, error, time.monotonic() - started)
    except (OSError, http.client.HTTPException, ValueError) as exc:
        reason = type(exc).__name__ if not str(exc) else f"{type(exc).__name__}: {exc}"
        return Outcome(None, reason[:300], time.monotonic() - started)
    finally:
        connection.close()
