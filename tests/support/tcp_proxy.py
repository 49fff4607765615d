"""A tiny threaded TCP forwarder on 127.0.0.1 that can play an outage of what is behind it, and
can stop an HTTP/1.1 request in the middle: part of its body delivered, or its answer withheld."""

from __future__ import annotations

import socket
import threading
from pathlib import Path
from types import TracebackType

HEAD_LIMIT = 65536  # bytes of a held request kept to read its headers
HOLD_LIMIT = 120.0  # seconds a held connection waits to be cut before the proxy drops it


class Hold:
    """One HTTP request the proxy stops, claimed by the first request line starting with
    ``prefix``: it forwards only the first ``upload`` bytes of the request (head and body) to
    the server, or (``upload=None``) all of them and withholds the server's ``answer``.

    Bytes withheld are never delivered: ``TcpProxy.down()`` cuts the connection with them.
    ``holding`` is set once the proxy is withholding bytes of the request.
    """

    def __init__(self, prefix: bytes, upload: int | None, answer: bool) -> None:
        self.prefix = prefix
        self.upload = upload
        self.answer = answer
        self.head = b""  # the start of the request as it arrived (request line and headers)
        self.uploaded = 0  # bytes of the request forwarded to the server
        self.withheld = b""  # the start of the server's answer, when ``answer``
        self.upstream_port = 0  # the proxy's port on the connection to the server
        self.holding = threading.Event()

    @property
    def content_length(self) -> int | None:
        """The request's Content-Length header, if its head has arrived."""
        for line in self.head.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                return int(value.strip())
        return None

    @property
    def head_length(self) -> int | None:
        """Bytes of the request before its body (request line, headers, blank line)."""
        end = self.head.find(b"\r\n\r\n")
        return None if end < 0 else end + 4


class _Link:
    """One proxied connection: whether the next client bytes start a request, its Hold."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.request_starts = True  # true at first and after each byte of an answer
        self.hold: Hold | None = None
        self.cut = threading.Event()


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a target; ``down()`` cuts every connection and refuses new
    ones until ``up()`` (a database restart, as the app sees it)."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port = int(self._listener.getsockname()[1])
        self._open: set[socket.socket] = set()
        self._links: set[_Link] = set()
        self._holds: list[Hold] = []
        self._lock = threading.Lock()
        self._up = threading.Event()
        self._up.set()
        self._closing = threading.Event()
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept, name="tcp-proxy", daemon=True)
        self._acceptor.start()

    def hold_next(self, prefix: bytes, *, upload: int | None = None,
                  answer: bool = False) -> Hold:
        """Stop the next request whose request line starts with ``prefix`` (see Hold).

        Holds are claimed in the order they were asked for; HTTP requests are told apart by
        turn-taking (a request never follows its connection's previous one before its answer).
        """
        if (upload is None) == (not answer):
            raise ValueError("hold either part of the upload or the answer")
        hold = Hold(prefix, upload, answer)
        with self._lock:
            self._holds.append(hold)
        return hold

    def _claim(self, head: bytes, link: _Link) -> tuple[bool, Hold | None]:
        """(told, the Hold) for a request starting with ``head``; not told while more bytes
        are needed to tell (any protocol goes straight through while no hold is asked for)."""
        with self._lock:
            for hold in self._holds:
                if head.startswith(hold.prefix):
                    self._holds.remove(hold)
                    hold.upstream_port = link.upstream_port
                    return True, hold
            return not any(hold.prefix.startswith(head) for hold in self._holds), None

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                client, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            if not self._up.is_set():
                client.close()  # the database is "restarting": the connection dies at once
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            client.settimeout(None)
            link = _Link(int(upstream.getsockname()[1]))
            with self._lock:
                self._open |= {client, upstream}
                self._links.add(link)
            for target, src, dst in ((self._pump_up, client, upstream),
                                     (self._pump_down, upstream, client)):
                thread = threading.Thread(target=target, args=(src, dst, link), daemon=True)
                self._threads.append(thread)
                thread.start()

    def _pump_up(self, src: socket.socket, dst: socket.socket, link: _Link) -> None:
        """Client to server; a request held after ``upload`` bytes keeps the rest."""
        head = b""
        try:
            while data := src.recv(65536):
                if link.request_starts:
                    head += data
                    told, link.hold = self._claim(head, link)
                    if not told:
                        continue  # too short yet to tell whether it is a held request
                    data, head = head, b""
                    link.request_starts = False
                hold = link.hold
                if hold is not None and b"\r\n\r\n" not in hold.head:
                    hold.head = (hold.head + data)[:HEAD_LIMIT]  # for content_length
                if hold is not None and hold.upload is not None:
                    room = hold.upload - hold.uploaded
                    if len(data) >= room:
                        dst.sendall(data[:room])
                        hold.uploaded += room
                        hold.holding.set()
                        link.cut.wait(HOLD_LIMIT)  # the server waits for the rest, forever
                        return
                dst.sendall(data)
                if hold is not None:
                    hold.uploaded += len(data)
        except OSError:
            pass
        finally:
            self._end(link, src, dst)

    def _pump_down(self, src: socket.socket, dst: socket.socket, link: _Link) -> None:
        """Server to client; a held answer is kept from the client."""
        try:
            while data := src.recv(65536):
                link.request_starts = True  # set before the client can see the answer
                hold = link.hold
                if hold is not None and hold.answer:
                    hold.withheld = data
                    hold.holding.set()
                    link.cut.wait(HOLD_LIMIT)  # the client waits for an answer, forever
                    return
                dst.sendall(data)
        except OSError:
            pass
        finally:
            self._end(link, src, dst)

    def _end(self, link: _Link, *socks: socket.socket) -> None:
        link.cut.set()  # the other direction of a closed connection holds nothing any more
        with self._lock:
            self._links.discard(link)
        for sock in socks:
            self._close(sock)

    def _close(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.discard(sock)
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()

    def down(self) -> None:
        """Cut every open connection (dropping any bytes held) and refuse new ones."""
        self._up.clear()
        with self._lock:
            victims = list(self._open)
            links = list(self._links)
        for link in links:
            link.cut.set()
        for sock in victims:
            self._close(sock)

    def up(self) -> None:
        """Accept and forward connections again."""
        self._up.set()

    def close(self) -> None:
        """Stop the proxy and every thread it started (bounded waits)."""
        self._closing.set()
        self.down()
        self._listener.close()
        self._acceptor.join(timeout=2)
        for thread in self._threads:
            thread.join(timeout=2)

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def tcp_queues(local_port: int, remote_port: int) -> tuple[int, int] | None:
    """(unacknowledged bytes sent, bytes received but not read) of the loopback TCP socket
    ``local_port`` -> ``remote_port``, from Linux's /proc/net/tcp; None when there is none.

    (0, 0) on the sender's side and on the receiver's side means the receiving process has
    read every byte sent so far.
    """
    try:
        lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        local, remote, queues = fields[1], fields[2], fields[4]
        if (int(local.rsplit(":", 1)[1], 16) == local_port
                and int(remote.rsplit(":", 1)[1], 16) == remote_port):
            sent, received = queues.split(":")
            return int(sent, 16), int(received, 16)
    return None
