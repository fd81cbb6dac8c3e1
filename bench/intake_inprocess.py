"""CPU per request of `POST /api/leads` in one process, one thread: the request's own cost, without the server,
the network or other requests competing for the cores.

    .venv/bin/python bench/intake_inprocess.py [--db sqlite|postgres] [--requests 800] [--variant full|bare|floor]
                                               [--profile 40]

Sets up a fresh database as `intake_bench.py` does, then in a child process calls the WSGI application directly
with the same request bodies and prints CPU and wall milliseconds per request. `--profile N` prints the N
costliest functions instead (cProfile on CPU time; its own overhead inflates many small calls). Compare with
`intake_cpu.py`, which reads the same request's CPU when served under load. Diagnosis; no goal.
"""

import argparse
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import intake_bench as bench  # noqa: E402


def _body(n: int) -> bytes:  # the shapes `intake_bench.load` posts
    hanzi = bench._HANZI
    return json.dumps({"source": ("web_form", "referral", "trade_show", "advertising")[n % 4],
                       "company": f"{hanzi[n % 20]}{hanzi[n // 20 % 20]}科技p{n}有限公司",
                       "contact_name": f"联系人{n % 97}", "phone": f"139{n:08d}", "email": f"p.{n}@example.com",
                       "budget": str((n % 7) * 50000)}).encode()


def child(token: str, path: str, requests: int, profile: int):
    import django

    django.setup()
    from django.core.wsgi import get_wsgi_application

    app = get_wsgi_application()
    counter = iter(range(10**9))

    def post():
        body = _body(next(counter))
        environ = {"REQUEST_METHOD": "POST", "PATH_INFO": path, "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000",
                   "HTTP_HOST": "127.0.0.1:8000", "wsgi.url_scheme": "http", "REMOTE_ADDR": "127.0.0.1",
                   "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body)),
                   "CONTENT_TYPE": "application/json", "HTTP_AUTHORIZATION": f"Bearer {token}"}
        status = []
        b"".join(app(environ, lambda s, _h: status.append(s)))
        if not status[0].startswith("20"):
            raise SystemExit(f"{path} answered {status[0]}")

    for _ in range(50):  # warm-up: imports, caches, prepared statements
        post()
    if profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile(time.process_time)
        profiler.enable()
        for _ in range(requests):
            post()
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumtime").print_stats(profile)
        return
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(requests):
        post()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(f"{path}: CPU {cpu * 1000 / requests:.2f} ms per request, wall {wall * 1000 / requests:.2f} ms")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    p.add_argument("--requests", type=int, default=800)
    p.add_argument("--variant", choices=["full", "bare", "floor"], default="full")
    p.add_argument("--profile", type=int, default=0)
    p.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432"))
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    p.add_argument("--path", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child is not None:
        child(args.child, args.path, args.requests, args.profile)
        return
    with bench.target_env(args.db, args.pg_url) as env:
        if env is None:
            return
        token = subprocess.run([bench.PY, bench.__file__, "--setup"], env=env, check=True, capture_output=True,
                               text=True).stdout.strip().splitlines()[-1]
        settings, path, _headers = bench.endpoints(token)[args.variant]
        subprocess.run([bench.PY, __file__, f"--child={token}", f"--path={path}", "--requests",
                        str(args.requests), "--profile", str(args.profile)],
                       env={**env, "DJANGO_SETTINGS_MODULE": settings}, check=True)


if __name__ == "__main__":
    main()
