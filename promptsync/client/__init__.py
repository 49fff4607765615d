"""Talking to the API: the HTTP transport, the typed API client, the SDK Client, offline bundles."""
