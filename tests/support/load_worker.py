"""One load process: fetches, pushes or label moves against a live server until a deadline.

``python tests/support/load_worker.py URL KEY KIND SECONDS SEED`` prints one JSON line:
{"statuses": {status: count}, "errors": [first few 5xx bodies or transport errors]}.
Bounded in time (SECONDS) and in count (MAX_REQUESTS), whatever the server does.
"""

from __future__ import annotations

import json
import random
import sys
import time
from collections import Counter

import httpx

MAX_REQUESTS = 20_000
SLUGS = [f"load/p{i}" for i in range(5)]
QUERIES: list[dict[str, str | int]] = [{}, {"label": "staging"}, {"version": 1}]
SOURCE = "variables:\n  name: {{required: true}}\ntemplate: |\n  Hello {{{{ name }}}} {n}\n"


def main(url: str, key: str, kind: str, seconds: float, seed: int) -> dict[str, object]:
    """Run one kind of traffic; return what the server answered."""
    rng = random.Random(seed)
    statuses: Counter[int] = Counter()
    errors: list[str] = []
    deadline = time.monotonic() + seconds
    base = url + "/api/v1/projects/demo/prompts/"
    with httpx.Client(headers={"X-API-Key": key}, timeout=30) as client:
        for n in range(MAX_REQUESTS):
            if time.monotonic() >= deadline:
                break
            slug = rng.choice(SLUGS)
            try:
                if kind == "fetch":
                    response = client.get(base + slug, params=rng.choice(QUERIES))
                elif kind == "push":
                    source = SOURCE.format(n=f"{seed}-{n}")
                    response = client.post(base + slug, json={"source": source})
                else:
                    latest = client.get(base + slug).json()["version"]
                    response = client.put(f"{base}{slug}/-/labels/staging",
                                          json={"version": rng.randint(1, latest)})
            except httpx.HTTPError as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                statuses[0] += 1
                continue
            statuses[response.status_code] += 1
            if response.status_code >= 500 and len(errors) < 5:
                errors.append(f"{response.status_code} {response.text[:300]}")
    return {"statuses": dict(statuses), "errors": errors}


if __name__ == "__main__":
    result = main(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), int(sys.argv[5]))
    print(json.dumps(result))
