"""The ``kensaku`` command."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from services.settings import Settings


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from services.app import create_app

    given = (("host", args.host), ("port", args.port), ("data_dir", args.data_dir))
    overrides = {k: v for k, v in given if v is not None}
    settings = Settings(**overrides)
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(settings)
    print(f"Kensaku: Kendra API on http://{settings.host}:{settings.port}/ (data in {settings.data_dir})", flush=True)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=settings.log_level, access_log=False)
    return 0


def _analytics_consumer(args: argparse.Namespace) -> int:
    import signal
    import threading

    from analytics.service import clock_of
    from analytics.store import FILE_NAME, AnalyticsStore
    from analytics.stream import RedisConsumer

    settings = Settings(**({"data_dir": args.data_dir} if args.data_dir is not None else {}))
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    store = AnalyticsStore(settings.data_dir / FILE_NAME)
    clock = clock_of(settings)

    def retention() -> int:
        return store.delete_older_than(clock() - settings.analytics_retention_days * 86_400.0)

    consumer = RedisConsumer(settings, store, maintenance=retention)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    consumer.start()
    print(f"Kensaku analytics consumer: {settings.redis_url} stream {settings.analytics_stream}"
          f" -> {settings.data_dir / FILE_NAME}", flush=True)
    done.wait()
    consumer.stop()
    store.close()
    return 0


def _worker(args: argparse.Namespace) -> int:
    from connectors.distributed import worker_main

    overrides = {"data_dir": args.data_dir} if args.data_dir is not None else {}
    settings = Settings(**overrides)
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    worker_main(settings, args.concurrency)
    return 0


def _search(args: argparse.Namespace) -> int:
    from services.chat.cli_search import run_search

    return run_search(args)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kensaku", description="Enterprise search that speaks the Kendra API")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run every service in one process (embedded mode)")
    serve.add_argument("--host", help="address to listen on (KENSAKU_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (KENSAKU_PORT, default 8000)")
    serve.add_argument("--data-dir", type=Path, help="data folder (KENSAKU_DATA_DIR, default ./kensaku-data)")
    serve.set_defaults(func=_serve)
    consumer = sub.add_parser("analytics-consumer",
                              help="distributed mode: write the analytics Redis stream into the analytics store")
    consumer.add_argument("--data-dir", type=Path, help="data folder (KENSAKU_DATA_DIR)")
    consumer.set_defaults(func=_analytics_consumer)
    worker = sub.add_parser("worker", help="run a Celery worker for connector syncs (distributed mode)")
    worker.add_argument("--concurrency", type=int, default=2, help="worker processes (default 2)")
    worker.add_argument("--data-dir", type=Path, help="the server's data folder (KENSAKU_DATA_DIR)")
    worker.set_defaults(func=_worker)
    search = sub.add_parser("search", help="search any Kendra endpoint (Kensaku or Amazon Kendra)")
    search.add_argument("question", help="keywords or a question, in Japanese or English")
    search.add_argument("--lang", choices=("ja", "en", "all"), help="language(s) to search (default: detected)")
    search.add_argument("--json", action="store_true", help="print the Kendra Query response as JSON")
    search.add_argument("--endpoint", help="Kendra endpoint (AWS_ENDPOINT_URL_KENDRA, default http://127.0.0.1:8000)")
    search.add_argument("--index", help="index id (default: the endpoint's only ACTIVE index)")
    search.add_argument("--results", type=int, default=5, choices=range(1, 101), metavar="N",
                        help="results to show, 1-100 (default 5)")
    search.add_argument("--channel", choices=("api", "chat", "web"), default="api",
                        help="analytics channel Kensaku counts the query under (default api)")
    search.set_defaults(func=_search)
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
