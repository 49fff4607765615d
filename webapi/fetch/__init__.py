"""GET one prompt version: the request apps make most, in as little work as it can be done.

One implementation, two callers. `middleware` answers a plain key fetch in front of Flask;
`answer.key_fetch_response` answers it inside Flask's view when the middleware did not (CORS on,
a cookie beside the key). Both go through `lookup.lookup_once`, which parses the WSGI environ
(`request`), reads the key and the version in one statement (`statements`, run by `readers` on
the connections of `connections`) and keeps a miss in the environ, so no request is looked up
twice. The general path (sessions, and every error) reads through `lookup.fetch_version`: the
same statement builder scoped by project id, and the same row mapper. `answer` writes the same
bytes for all of them.
"""
