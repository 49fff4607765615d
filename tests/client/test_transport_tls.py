"""The client's TLS context: an http:// server gets none worth building (no CA bundle loaded at
start-up, ~20 ms of CPU a command), yet nothing is ever sent unverified: that context trusts no
certificate, and an https:// server gets httpx's own, verifying with the CA bundle."""

from __future__ import annotations

import ssl
from typing import Any

from promptsync.client.api import ApiClient


def tls_context(api: ApiClient) -> ssl.SSLContext:
    """The TLS context of the client's connection pool (httpx's transport, httpcore's pool)."""
    transport: Any = api._http._transport  # noqa: SLF001
    context: ssl.SSLContext = transport._pool._ssl_context  # noqa: SLF001
    return context


def test_an_http_server_gets_a_context_without_certificates_that_still_verifies() -> None:
    with ApiClient("http://127.0.0.1:9") as api:
        context = tls_context(api)
        assert context.cert_store_stats()["x509_ca"] == 0  # the CA bundle was never loaded
        # Were an https URL reached through it, the handshake would fail, never pass unverified.
        assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


def test_an_https_server_gets_httpx_verifying_context_with_the_ca_bundle() -> None:
    with ApiClient("https://prompts.example.com") as api:
        context = tls_context(api)
        assert context.cert_store_stats()["x509_ca"] > 0
        assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
