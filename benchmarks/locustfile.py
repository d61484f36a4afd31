"""The load of ``benchmarks/serve_load.py``, sent by locust instead (to compare the two).

locust is not a dependency of storyline (2.47 pulls gevent and a newer pytest than the test
stack pins): install it in an environment of its own. Then, against a running ``storyline
serve`` on 127.0.0.1, one endpoint at a time, each user sending its next request when the last
is answered (as serve_load's closed loop does)::

    python -m venv /tmp/locustenv && /tmp/locustenv/bin/pip install locust
    STORYLINE_ENDPOINT=api-search /tmp/locustenv/bin/locust -f benchmarks/locustfile.py \\
        --headless -u 4 -r 4 -t 20s --host http://127.0.0.1:8000 --csv /tmp/load

``STORYLINE_ENDPOINT`` is one of: stories, story, article, search, api-stories, api-story,
api-article, api-search. Ids and search words are drawn from the store as serve_load draws
them (seed 5).
"""

from __future__ import annotations

import os
import random
import sys
from typing import Any

from locust import HttpUser, constant, events, task

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_load import LOCUST_NAMES, plan_for  # its imports are all the standard library

PATHS: list[str] = []


@events.test_start.add_listener
def _pick(environment: Any, **_: Any) -> None:
    import requests  # locust's own dependency

    stories = requests.get(f"{environment.host}/api/stories", params={"limit": 500}, timeout=60)
    plan = plan_for(stories.json()["stories"], random.Random(5))  # serve_load's draw
    by_name = dict(zip(LOCUST_NAMES, plan.values(), strict=True))
    PATHS[:] = by_name[os.environ.get("STORYLINE_ENDPOINT", "api-search")]


class Reader(HttpUser):
    wait_time = constant(0)

    def on_start(self) -> None:
        self.n = 0

    @task
    def read(self) -> None:
        path = PATHS[self.n % len(PATHS)]
        self.n += 1
        self.client.get(path, name=os.environ.get("STORYLINE_ENDPOINT", "api-search"))
