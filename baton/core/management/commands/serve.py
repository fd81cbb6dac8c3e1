"""`baton serve`: the production web server (gunicorn, static files by WhiteNoise) plus a job consumer.

For the embedded default one command runs everything; a scaled deployment runs `baton serve --no-worker`
on web hosts and `baton worker` elsewhere.
"""

import signal
import subprocess
import sys

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Serve Baton with gunicorn and run the background worker beside it."

    def add_arguments(self, parser):
        parser.add_argument("--bind", default="127.0.0.1:8000")
        parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
        parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
        parser.add_argument("--no-worker", action="store_true", help="do not start the job consumer")

    def handle(self, *args, bind, workers, threads, no_worker, **options):
        children: list[subprocess.Popen] = []
        if not no_worker:
            children.append(subprocess.Popen([sys.executable, "-m", "baton", "worker"]))
        children.append(subprocess.Popen([
            sys.executable, "-m", "gunicorn", "baton.config.wsgi:application", "--bind", bind,
            "--workers", str(workers), "--threads", str(threads), "--access-logfile", "-",
            "--graceful-timeout", "10",
        ]))
        self.stdout.write(self.style.SUCCESS(f"Baton is serving at http://{bind}/  (Ctrl+C stops it)"))

        def stop(signum, frame):
            for child in children:
                if child.poll() is None:
                    child.terminate()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        try:
            # If either child dies, stop the other: a web server without its worker silently drops jobs.
            while all(child.poll() is None for child in children):
                try:
                    children[-1].wait(timeout=1)
                except subprocess.TimeoutExpired:
                    pass
        finally:
            stop(None, None)
            for child in children:
                child.wait(timeout=15)
        code = max((child.returncode or 0) for child in children)
        if code and code not in (-signal.SIGTERM, -signal.SIGINT):
            sys.exit(code)
