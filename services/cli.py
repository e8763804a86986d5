"""The ``kensaku`` command."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import sys
from contextlib import ExitStack, closing
from pathlib import Path
from typing import TYPE_CHECKING, Any

from services.data_lock import DataFolderInUse, lock_data_folder
from services.settings import Settings

if TYPE_CHECKING:
    from services.index.move import MoveReport


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only (a name other than localhost is not)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def exposure_refusal(settings: Settings) -> str | None:
    """Why ``kensaku serve`` must not start with these settings, or None when it may.

    Off loopback, with auth off and no authenticating proxy, anyone who reaches the port could call
    every Kendra operation (read every document, delete indexes): only an explicit statement that the
    network is trusted allows that.
    """
    if is_loopback(settings.host) or settings.auth_mode != "off" or settings.trusted_user_header:
        return None
    if settings.trust_network:
        return None
    return (
        f"kensaku: refusing to listen on {settings.host}: with KENSAKU_AUTH_MODE=off, anyone who can reach"
        " this address could call every Kendra operation (read every document, delete indexes).\n"
        "Choose one:\n"
        "  - KENSAKU_AUTH_MODE=sigv4 with KENSAKU_ACCESS_KEYS, so that requests must be signed;\n"
        "  - an authenticating proxy in front (KENSAKU_TRUSTED_USER_HEADER), or --host 127.0.0.1;\n"
        "  - --trust-network (KENSAKU_TRUST_NETWORK=true) if only trusted machines can reach this address."
    )


def _serve(args: argparse.Namespace) -> int:
    given: tuple[tuple[str, Any], ...] = (("host", args.host), ("port", args.port), ("data_dir", args.data_dir),
                                          ("trust_network", True if args.trust_network else None))
    overrides = {k: v for k, v in given if v is not None}
    settings = Settings(**overrides)
    refusal = exposure_refusal(settings)
    if refusal is not None:
        print(refusal, file=sys.stderr, flush=True)
        return 2

    try:
        lock = lock_data_folder(settings.data_dir)  # before the indexer starts; held until this process ends
    except DataFolderInUse as error:
        print(error, file=sys.stderr, flush=True)
        return 2

    import uvicorn

    from services.app import create_app

    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    with lock:
        app = create_app(settings)
        print(f"Kensaku: Kendra API on http://{settings.host}:{settings.port}/ (data in {settings.data_dir})",
              flush=True)
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


def _opensearch_dev(args: argparse.Namespace) -> int:
    from services.opensearch_dev import LauncherUnavailable, run

    try:
        run(args.nodes, args.port, args.data_dir, args.heap)  # returns only by raising
    except LauncherUnavailable as error:
        print(f"kensaku: {error}", file=sys.stderr, flush=True)
    return 2


def _move_index(args: argparse.Namespace) -> int:
    from services.engine.base import EngineUnavailable
    from services.engine.factory import make_engine
    from services.index.move import MoveRefused, move_indexes

    settings = Settings(**({"data_dir": args.data_dir} if args.data_dir is not None else {}))
    logging.basicConfig(level="WARNING", format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    came_from = "embedded" if args.to == "opensearch" else "opensearch"
    engines = ExitStack()
    try:
        source = engines.enter_context(closing(make_engine(settings.model_copy(update={"engine": came_from}))))
        target = engines.enter_context(closing(make_engine(settings.model_copy(update={"engine": args.to}))))
        reports = move_indexes(settings, source, target, args.index_ids,
                               lambda line: print(line, flush=True), force=args.force)
    except DataFolderInUse as error:
        print(f"kensaku: {error}\nStop the server (kensaku serve) on this data folder first, then move.",
              file=sys.stderr, flush=True)
        return 2
    except MoveRefused as error:
        print(f"kensaku: {error}", file=sys.stderr, flush=True)
        return 2
    except EngineUnavailable as error:
        print(f"kensaku: the move stopped: {error}\nRun it again when the engine answers (each index starts clean).",
              file=sys.stderr, flush=True)
        return 1
    finally:
        engines.close()
    print(move_table(reports), flush=True)
    for report in reports:
        for note in report.notes:
            print(f"{report.name}: {note}", flush=True)
    if not all(report.complete for report in reports):
        print("kensaku: the target does not hold everything that was copied (see the table); run the move again.",
              file=sys.stderr, flush=True)
        return 1
    if reports:
        print(f"Moved. Start the server on the same data folder with KENSAKU_ENGINE={args.to}:\n"
              f"  KENSAKU_ENGINE={args.to} kensaku serve --data-dir {settings.data_dir}", flush=True)
    return 0


def move_table(reports: list[MoveReport]) -> str:
    """The moved indexes, one line each: documents and vectors in the target, and the time taken."""
    lines = [f"{'index':<50} {'documents':>10} {'passages':>9} {'titles':>7} {'seconds':>8}  check"]
    for r in reports:
        check = "ok" if r.complete else f"target holds {r.in_target} documents, {r.vectors_in_target} vectors"
        lines.append(f"{r.name + ' (' + r.index_id + ')':<50} {r.documents:>10} {r.passages:>9} {r.titles:>7}"
                     f" {r.seconds:>8.1f}  {check}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kensaku", description="Enterprise search that speaks the Kendra API")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run every service in one process (embedded mode)")
    serve.add_argument("--host", help="address to listen on (KENSAKU_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (KENSAKU_PORT, default 8000)")
    serve.add_argument("--data-dir", type=Path, help="data folder (KENSAKU_DATA_DIR, default ./kensaku-data)")
    serve.add_argument("--trust-network", action="store_true",
                       help="serve an address other than loopback with KENSAKU_AUTH_MODE=off: everyone who can"
                            " reach it may call every operation (KENSAKU_TRUST_NETWORK)")
    serve.set_defaults(func=_serve)
    consumer = sub.add_parser("analytics-consumer",
                              help="distributed mode: write the analytics Redis stream into the analytics store")
    consumer.add_argument("--data-dir", type=Path, help="data folder (KENSAKU_DATA_DIR)")
    consumer.set_defaults(func=_analytics_consumer)
    worker = sub.add_parser("worker", help="run a Celery worker for connector syncs (distributed mode)")
    worker.add_argument("--concurrency", type=int, default=2, help="worker processes (default 2)")
    worker.add_argument("--data-dir", type=Path, help="the server's data folder (KENSAKU_DATA_DIR)")
    worker.set_defaults(func=_worker)
    dev = sub.add_parser("opensearch-dev", help="a development OpenSearch cluster (N nodes in one JVM, k-NN plugin);"
                         " prints READY <url> when green")
    dev.add_argument("--nodes", type=int, default=1, choices=range(1, 10), metavar="N", help="nodes (default 1)")
    dev.add_argument("--port", type=int, default=9200, help="HTTP port of node 1; node i gets port + i - 1")
    dev.add_argument("--data-dir", type=Path, default=Path("opensearch-data"), help="the nodes' data and logs")
    dev.add_argument("--heap", default="1g", help="the JVM's heap for all nodes together (default 1g)")
    dev.set_defaults(func=_opensearch_dev)
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
    move = sub.add_parser("move-index", help="copy indexes from the embedded engine to OpenSearch or back, without"
                          " crawling or embedding again (stop the server first)")
    move.add_argument("--to", required=True, choices=("opensearch", "embedded"),
                      help="the engine to move to (the other one is read; OpenSearch from KENSAKU_OPENSEARCH_*)")
    move.add_argument("--index-id", dest="index_ids", action="extend", nargs="+", metavar="ID",
                      help="the indexes to move (default: every ACTIVE or UPDATING index)")
    move.add_argument("--data-dir", type=Path, help="data folder (KENSAKU_DATA_DIR)")
    move.add_argument("--force", action="store_true",
                      help="move even where the target holds vectors of an index and the source none")
    move.set_defaults(func=_move_index)
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
