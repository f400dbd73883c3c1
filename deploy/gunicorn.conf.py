# gunicorn -c deploy/gunicorn.conf.py "hashedge.web.wsgi:app"
# Web workers are stateless: all state is in PostgreSQL, so add workers (or machines) freely.
# The scheduler is a separate process (deploy/systemd/hashedge-scheduler.service), never a worker;
# so is the matching engine when HASHEDGE_ORDER_ENGINE=inbox (`hashedge engine run`,
# deploy/systemd/hashedge-engine.service): the workers append orders to its inbox and await it.
import multiprocessing
import os

bind = os.environ.get("HASHEDGE_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("HASHEDGE_WEB_WORKERS", multiprocessing.cpu_count() * 2 + 1))
worker_class = "gthread"
threads = 4
timeout = 30
graceful_timeout = 30
accesslog = "-"
errorlog = "-"
# Request bodies are capped by the app (413 above 1 MiB, hashedge/web/edge.py); gunicorn's
# own Server header says "gunicorn" without a version.
forwarded_allow_ips = os.environ.get("HASHEDGE_FORWARDED_ALLOW_IPS", "127.0.0.1")
