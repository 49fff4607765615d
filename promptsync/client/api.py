"""ApiClient: one method per /api/v1 route, over the plumbing of ``transport.ApiBase``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from promptsync.client.batch import BatchAnswer, batch_chunks, parse_results
from promptsync.client.transport import ApiBase, encode_json, json_object, segment
from promptsync.errors import ApiError, ConfigError
from promptsync.format.slugs import slug_problem

MANIFEST_PAGE = 1000


class ApiClient(ApiBase):
    """Thin typed wrapper over the /api/v1 routes; ``project=None`` uses the key-scoped routes."""

    @staticmethod
    def _prompts(project: str | None) -> str:
        return "/prompts" if project is None else f"/projects/{segment(project)}/prompts"

    def _prompt(self, project: str | None, slug: str) -> str:
        # A slug is often user input: "../keys" would reach another route (httpx resolves dot
        # segments), so a name no prompt can have gets the server's own 404, unsent.
        problem = slug_problem(slug)
        if problem is not None:
            raise ApiError(404, "not_found", f"No prompt {slug!r}: {problem}.")
        # Slugs keep their "/" unescaped, as the routes expect.
        return f"{self._prompts(project)}/{quote(slug, safe='/')}"

    # --- accounts, projects, keys --------------------------------------------------------

    def signup(self, email: str, password: str) -> dict[str, Any]:
        """Create a user; returns ``{"user": {...}}``."""
        return json_object(
            self._send("POST", "/auth/signup", body={"email": email, "password": password})
        )

    def login(self, email: str, password: str) -> dict[str, Any]:
        """Sign in; keeps the session cookie and sends the CSRF token on later writes."""
        response = self._send("POST", "/auth/login", body={"email": email, "password": password})
        data = json_object(response)
        if response.url.scheme == "http" and any(
            "secure" in (attr.strip().lower() for attr in cookie.split(";")[1:])
            for cookie in response.headers.get_list("Set-Cookie")
        ):
            # The cookie jar rightly never sends a Secure cookie over http, so every later call
            # would fail with a puzzling 401; say what is wrong instead.
            raise ConfigError(
                f"{self.server} sets its session cookie for HTTPS only but is reached over "
                "http://: use https://, or set SESSION_COOKIE_SECURE=0 (or "
                "PROMPTSYNC_ENV=development) on the server"
            )
        token = data.get("csrf_token")
        self.csrf_token = token if isinstance(token, str) else None
        return data

    def logout(self) -> None:
        """End the session (every copy of it, server-side)."""
        self._send("POST", "/auth/logout")
        self.csrf_token = None
        self._http.cookies.clear()

    def me(self) -> dict[str, Any]:
        """The caller: ``{"user", "key", "projects"}``."""
        return self._get_json("/me")

    def create_project(self, slug: str, name: str) -> dict[str, Any]:
        """Create a project; the signed-in user becomes its admin."""
        return json_object(self._send("POST", "/projects", body={"slug": slug, "name": name}))

    def projects(self) -> list[dict[str, Any]]:
        """Projects the caller belongs to, with roles."""
        return self._collect("/projects", "projects")

    def create_key(self, project: str, name: str, role: str) -> dict[str, Any]:
        """Create an API key; the plaintext ``key`` is in this answer only."""
        path = f"/projects/{segment(project)}/keys"
        return json_object(self._send("POST", path, body={"name": name, "role": role}))

    def keys(self, project: str) -> list[dict[str, Any]]:
        """The project's API keys (no secrets)."""
        return self._collect(f"/projects/{segment(project)}/keys", "keys")

    def delete_key(self, project: str, key_id: str | int) -> None:
        """Revoke an API key."""
        self._send("DELETE", f"/projects/{segment(project)}/keys/{segment(key_id)}")

    def events(self, project: str, limit: int = 100) -> list[dict[str, Any]]:
        """The newest ``limit`` audit events, newest first."""
        params = {"limit": min(limit, 100)}
        path = f"/projects/{segment(project)}/events"
        return self._collect(path, "events", params, limit=limit)

    # --- backups -------------------------------------------------------------------------

    def export_project(self, project: str) -> dict[str, Any]:
        """Every prompt, version, label and event of the project (admin), as a dict."""
        return self._get_json(f"/projects/{segment(project)}/export")

    def import_project(self, project: str, document: bytes) -> dict[str, Any]:
        """Restore an export (its bytes as they are) into an empty project; the counts."""
        response = self._send("POST", f"/projects/{segment(project)}/import", content=document)
        return dict(json_object(response).get("imported") or {})

    # --- prompts -------------------------------------------------------------------------

    def manifest(self, project: str | None, include_source: bool = False,
                 include_archived: bool = False) -> list[dict[str, Any]]:
        """Every prompt's slug, latest version, sha256, labels and updated_at (all pages);
        archived prompts too (with ``archived_at``) when ``include_archived``."""
        params: dict[str, Any] = {"limit": MANIFEST_PAGE}
        include = ["source"] * include_source + ["archived"] * include_archived
        if include:
            params["include"] = ",".join(include)
        return self._collect(self._prompts(project), "prompts", params)

    def get_version(
        self,
        project: str | None,
        slug: str,
        version: int | None = None,
        label: str | None = None,
        etag: str | None = None,
    ) -> dict[str, Any] | None:
        """One version (default: latest); None when ``etag`` still matches (304)."""
        if version is not None and label is not None:
            raise ValueError("pass version or label, not both")
        headers = {}
        if etag:
            quoted = etag if etag.startswith(('"', "W/")) else f'"{etag}"'
            headers["If-None-Match"] = quoted
        response = self._send(
            "GET",
            self._prompt(project, slug),
            params={"version": version, "label": label},
            headers=headers,
        )
        return None if response.status_code == 304 else json_object(response)

    def push(
        self,
        project: str | None,
        slug: str,
        source: str | bytes,
        message: str | None = None,
        parent_version: int | None = None,
        git: Mapping[str, Any] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        """Upload a source: (201, new version) or (200, latest version when nothing changed)."""
        if isinstance(source, bytes):
            source = source.decode("utf-8")
        body: dict[str, Any] = {"source": source}
        if message is not None:
            body["message"] = message
        if parent_version is not None:
            body["parent_version"] = parent_version
        if git is not None:
            body["git"] = dict(git)
        # Safe to send again: a source the server already stored is answered 200, not stored
        # twice (it compares hashes before the parent version).
        response = self._send("POST", self._prompt(project, slug), body=body, idempotent=True)
        return response.status_code, json_object(response)

    def push_batch(
        self, project: str | None, items: Sequence[Mapping[str, Any]]
    ) -> list[BatchAnswer]:
        """Push many ``{slug, source, ...}`` items in as few requests as limits allow; the
        answers in the order of ``items``."""
        encoded = [encode_json(dict(item)) for item in items]
        answers: list[BatchAnswer] = []
        for chunk in batch_chunks(encoded):
            content = b'{"prompts":[' + b",".join(encoded[i] for i in chunk) + b"]}"
            response = self._send("POST", self._prompts(project), content=content,
                                  idempotent=True)  # each item as push() says
            answers += parse_results(json_object(response), len(chunk), str(response.url),
                                     response.status_code)
        return answers

    def archive(self, project: str | None, slug: str, expected_version: int | None = None,
                force: bool = False) -> None:
        """Archive a prompt (DELETE); 409 when its latest is not ``expected_version``."""
        params = {"expected_version": expected_version, "force": "true" if force else None}
        self._send("DELETE", self._prompt(project, slug), params=params)

    def restore(self, project: str | None, slug: str) -> dict[str, Any]:
        """Bring an archived prompt back; returns its latest version."""
        return json_object(self._send("POST", f"{self._prompt(project, slug)}/-/restore"))

    def versions(self, project: str | None, slug: str) -> list[dict[str, Any]]:
        """Every version of a prompt, newest first."""
        return self._collect(f"{self._prompt(project, slug)}/-/versions", "versions")

    def diff(
        self,
        project: str | None,
        slug: str,
        from_: int | str | None = None,
        to: int | str | None = None,
    ) -> dict[str, Any]:
        """``{"from", "to", "diff"}`` between two refs (default: previous and latest)."""
        path = f"{self._prompt(project, slug)}/-/diff"
        return self._get_json(path, {"from": from_, "to": to})

    def set_label(
        self,
        project: str | None,
        slug: str,
        label: str,
        version: int,
        expected_version: int | None = None,
        reason: str | None = None,
        allow_breaking: bool = False,
        evidence: tuple[dict[str, Any], str] | None = None,
    ) -> dict[str, Any]:
        """Point ``label`` at ``version``; 409 when it no longer points at ``expected_version``
        (0: when it exists), or ``contract_break`` when a protected label's move breaks the
        prompt's contract, unless ``allow_breaking``. A protected label that needs approval
        answers ``{"request"}``. ``evidence``: the git provenance of the prompt's file here
        and its sha256, which the server records when they show a clean commit of the
        version's bytes."""
        body: dict[str, Any] = {"version": version}
        if evidence is not None:
            body["git"], body["sha256"] = evidence
        if expected_version is not None:
            body["expected_version"] = expected_version
        if reason is not None:
            body["reason"] = reason
        if allow_breaking:
            body["allow_breaking"] = True
        path = f"{self._prompt(project, slug)}/-/labels/{segment(label)}"
        # Safe to send again: a label already moved stays (with expected_version, a repeat
        # of a move that landed is a 409 saying where the label points).
        return json_object(self._send("PUT", path, body=body, idempotent=True))

    def delete_label(
        self,
        project: str | None,
        slug: str,
        label: str,
        expected_version: int | None = None,
    ) -> dict[str, Any] | None:
        """Remove ``label`` from the prompt; ``{"request"}`` when that needs approval."""
        path = f"{self._prompt(project, slug)}/-/labels/{segment(label)}"
        response = self._send("DELETE", path, params={"expected_version": expected_version})
        return json_object(response) if response.status_code == 202 else None

    def render(
        self,
        project: str | None,
        slug: str,
        variables: Mapping[str, Any],
        version: int | None = None,
        label: str | None = None,
    ) -> dict[str, Any]:
        """Render on the server: ``{"text"}`` or ``{"messages"}``."""
        body: dict[str, Any] = {"variables": dict(variables)}
        if version is not None:
            body["version"] = version
        if label is not None:
            body["label"] = label
        path = f"{self._prompt(project, slug)}/-/render"
        return json_object(self._send("POST", path, body=body, idempotent=True))  # writes nothing

    # --- releases ------------------------------------------------------------------------

    def label_history(self, project: str | None, slug: str, label: str,
                      limit: int | None = None) -> list[dict[str, Any]]:
        """The label's moves, newest first: ``{id, from_version, to_version, actor, at,
        reason}`` (the newest ``limit``, or all)."""
        path = f"{self._prompt(project, slug)}/-/labels/{segment(label)}/history"
        params = {"limit": min(limit, 1000)} if limit else {"limit": 1000}
        return self._collect(path, "moves", params, limit=limit)

    def settings(self, project: str) -> dict[str, Any]:
        """The project's release settings (admin)."""
        return self._get_json(f"/projects/{segment(project)}/settings")

    def update_settings(self, project: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Change some release settings (admin); returns them all."""
        path = f"/projects/{segment(project)}/settings"
        return json_object(self._send("PUT", path, body=dict(changes)))

    def promotions(self, project: str, state: str | None = "pending") -> list[dict[str, Any]]:
        """The project's promotion requests in ``state`` (None: every state), newest first."""
        path = f"/projects/{segment(project)}/promotions"
        return self._collect(path, "promotions", {"state": state, "limit": 1000})

    def approve(self, project: str, request_id: int) -> dict[str, Any]:
        """Approve a promotion request (another admin's); returns the request."""
        path = f"/projects/{segment(project)}/promotions/{segment(request_id)}/approve"
        return dict(json_object(self._send("POST", path)).get("request") or {})

    def reject(self, project: str, request_id: int) -> dict[str, Any]:
        """Reject a promotion request; returns the request."""
        path = f"/projects/{segment(project)}/promotions/{segment(request_id)}/reject"
        return dict(json_object(self._send("POST", path)).get("request") or {})
