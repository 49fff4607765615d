"""The request bodies and answers of /api/v1, declared once: they validate requests and write
/openapi.json."""
