# gunicorn -c deploy/gunicorn.conf.py "hashedge.web.wsgi:app"
# Web workers are stateless: all state is in PostgreSQL, so add workers (or machines) freely.
# The scheduler is a separate process (deploy/systemd/hashedge-scheduler.service), never a worker.
# With HASHEDGE_ORDER_ENGINE=inbox the master also starts the matching engine beside the workers
# (`hashedge engine run`, stopped with the master); the workers append orders to its inbox and
# await it. Set HASHEDGE_ENGINE_BESIDE_WEB=0 when the engine runs as its own unit instead
# (deploy/systemd/hashedge-engine.service, e.g. one per instrument group); a second engine of the
# same group only stands by. The engine started here listens on a Unix socket (HASHEDGE_ENGINE_SOCKET,
# default engine.sock in the instance folder, mode 0600) and the workers hand it their orders there,
# sending no database statement of their own (ORDER_PATH.md, "The engine's socket").
import multiprocessing
import os
import subprocess
import sys
import tempfile

bind = os.environ.get("HASHEDGE_BIND", "127.0.0.1:8000")
_INBOX = (os.environ.get("HASHEDGE_ORDER_ENGINE") or "direct").strip().lower() == "inbox"
# Direct: gunicorn's usual 2 x cores + 1 (the reads of BENCHMARKS part A were measured so). With
# the inbox the engine needs a core of its own under load, and each extra worker process only
# adds CPU: on 2 cores, 2 x 32 answered POST /orders at 200 req/s with p50 420-736 ms and 4.4 ms
# of web CPU an order, 5 x 32 with 1.1-4.4 s and 4.8-6.3 ms (BENCHMARKS.md, part H).
workers = int(os.environ.get("HASHEDGE_WEB_WORKERS",
                             multiprocessing.cpu_count() if _INBOX else multiprocessing.cpu_count() * 2 + 1))
worker_class = "gthread"
# With the inbox an order request mostly waits for the engine's batch, holding its thread: more
# threads per worker keep enough requests in flight for the engine to batch them.
threads = int(os.environ.get("HASHEDGE_WEB_THREADS", 32 if _INBOX else 4))
if _INBOX and os.environ.get("HASHEDGE_ENGINE_BESIDE_WEB", "1") != "0" and not os.environ.get("HASHEDGE_ENGINE_SOCKET"):
    _socket = os.path.join(os.path.abspath(os.environ.get("HASHEDGE_INSTANCE_DIR") or "instance"), "engine.sock")
    from hashedge.adapters.engine_socket import MAX_SOCKET_PATH_BYTES

    if len(os.fsencode(_socket)) > MAX_SOCKET_PATH_BYTES:  # too long for a Unix socket: a private temporary folder
        _socket = os.path.join(tempfile.mkdtemp(prefix="hashedge-"), "engine.sock")
    os.environ["HASHEDGE_ENGINE_SOCKET"] = _socket  # read by the workers and the engine alike
timeout = 30
graceful_timeout = 30
accesslog = "-"
errorlog = "-"
# Request bodies are capped by the app (413 above 1 MiB, hashedge/web/edge.py); gunicorn's
# own Server header says "gunicorn" without a version.
forwarded_allow_ips = os.environ.get("HASHEDGE_FORWARDED_ALLOW_IPS", "127.0.0.1")

_engine = None


def when_ready(server):
    global _engine
    if _INBOX and os.environ.get("HASHEDGE_ENGINE_BESIDE_WEB", "1") != "0":
        _engine = subprocess.Popen([sys.executable, "-c", "from hashedge.cli import main; main()", "engine", "run"])
        server.log.info("matching engine started beside the workers (pid %s)", _engine.pid)


def on_exit(server):
    if _engine is not None and _engine.poll() is None:
        _engine.terminate()  # SIGTERM: the engine finishes its batch and releases its lease
        try:
            _engine.wait(graceful_timeout)
        except subprocess.TimeoutExpired:
            _engine.kill()


def post_fork(server, worker):
    # One kept database connection per worker thread (set in the worker, before it loads the app;
    # the engine started beside the workers keeps the default): with fewer, a burst of requests
    # opens connections that are closed again on return (on PostgreSQL a server process and an
    # authentication each: 44 a second at 200 req/s with 32 threads on 5 kept; BENCHMARKS.md, part J).
    os.environ.setdefault("HASHEDGE_DB_POOL_SIZE", str(threads))


def post_worker_init(worker):
    # A worker is a long-running process from here on: start-up objects frozen, full collections
    # spaced out, so that no request waits on one (hashedge/gc_policy.py, BENCHMARKS.md part I).
    from hashedge.gc_policy import settle
    settle()
