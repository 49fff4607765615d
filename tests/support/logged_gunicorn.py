"""A gunicorn whose access log names each request's user agent and Last-Event-ID, and whose
app log (server.log, one line per request as it starts) shows a stream the moment it opens."""

from __future__ import annotations

import re

from tests.support.gunicorn import Gunicorn

SDK_AGENT = "promptsync-python/"
# Streams need a threaded worker (an open stream holds a thread); keep-alives every second so a
# dropped reader is noticed at once.
STREAM_ENV = {"GUNICORN_CMD_ARGS": "-k gthread --threads 16", "LIVE_KEEPALIVE_SECONDS": "1",
              "LIVE_POLL_SECONDS": "0.2"}
_APP_LINE = re.compile(r'"([A-Z]+) ([^" ]+)" (\d{3}) ')


# pid, status, method, path, Last-Event-ID (- when none), user agent
ACCESS_FORMAT = '%(p)s %(s)s %(m)s %(U)s %({last-event-id}i)s "%(a)s"'


class LoggedGunicorn(Gunicorn):
    """A gunicorn whose access log also names the user agent and the Last-Event-ID."""

    def command(self) -> list[str]:
        argv = super().command()
        argv[argv.index("--access-logformat") + 1] = ACCESS_FORMAT
        return argv

    def requests(self) -> list[tuple[str, str, str, str]]:
        """(method, path, Last-Event-ID, user agent) of every request answered so far."""
        rows = []
        if self.access_log.exists():
            for line in self.access_log.read_text().splitlines():
                head, _, agent = line.partition(' "')
                _pid, _status, method, path, last_id = head.split(" ")
                rows.append((method, path, last_id, agent.rstrip('"')))
        return rows

    def sdk_gets(self, slug: str) -> int:
        """GETs of one prompt sent by the SDK (the live client; the editor uses plain httpx)."""
        path = f"/api/v1/projects/demo/prompts/{slug}"
        return sum(1 for method, p, _, agent in self.requests()
                   if method == "GET" and p == path and agent.startswith(SDK_AGENT))

    def started(self) -> list[tuple[str, str]]:
        """(method, path with query) of every request the app has begun to answer, from its own
        request log: a stream shows here when it opens, in the access log when it ends."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return [(m.group(1), m.group(2)) for m in _APP_LINE.finditer(text)]
