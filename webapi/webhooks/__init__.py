"""Webhooks (SPEC §12): the outbox written with each event, and the worker that sends it.

guard (where a webhook may send) · signing (the HMAC headers) · delivery (one POST) · outbox
(the rows: written in the event's transaction, claimed under a lease) · worker (the loop, the
retries, the `webhooks run` command).
"""
