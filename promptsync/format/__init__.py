"""One prompt file: safe YAML, schema, templates, slugs, hashing (pure; the server uses it)."""
