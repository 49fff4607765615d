"""Who is calling: sessions, API keys, passwords, CSRF tokens, and project roles."""
