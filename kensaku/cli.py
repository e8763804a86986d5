"""The ``kensaku`` command."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import sys
import threading
import time
from contextlib import AbstractContextManager, ExitStack, closing, nullcontext
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
    from pydantic import ValidationError

    try:
        settings = Settings(**overrides)
    except ValidationError as error:  # e.g. KENSAKU_TOPOLOGY=distributed on the embedded engine
        print(f"kensaku: {error}", file=sys.stderr, flush=True)
        return 2
    if args.local_roots:  # added to KENSAKU_CONNECTOR_LOCAL_ROOTS, never replacing it
        roots = [*settings.connector_local_roots, *(Path(r).expanduser().resolve() for r in args.local_roots)]
        settings = Settings(**overrides, connector_local_roots=roots)
    refusal = exposure_refusal(settings)
    if refusal is not None:
        print(refusal, file=sys.stderr, flush=True)
        return 2

    lock: AbstractContextManager[Any] = nullcontext()
    if settings.topology == "embedded":  # distributed: any number of API processes, no indexer among them
        try:
            lock = lock_data_folder(settings.data_dir)  # before the indexer starts; held until this process ends
        except DataFolderInUse as error:
            print(error, file=sys.stderr, flush=True)
            return 2

    import uvicorn

    from kensaku.app import create_app

    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    with lock:
        notice = admin_notice(settings)  # under the lock: one server makes the first-run token
        app = create_app(settings)
        print(f"Kensaku: Kendra API on http://{settings.host}:{settings.port}/ (data in {settings.data_dir})",
              flush=True)
        server = uvicorn.Server(uvicorn.Config(app, host=settings.host, port=settings.port,
                                               log_level=settings.log_level, access_log=False))

        def announce() -> None:  # once the port answers, so that the printed link works when opened
            while not server.started and not server.should_exit:
                time.sleep(0.05)
            if server.started:
                print(notice, flush=True)

        threading.Thread(target=announce, name="announce", daemon=True).start()
        server.run()
    return 0 if server.started else 3


def page_url(settings: Settings, path: str) -> str:
    """The address of a page of this server as a browser on this machine opens it."""
    host = settings.host.strip("[]")
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    return f"http://{f'[{host}]' if ':' in host else host}:{settings.port}{path}"


def admin_notice(settings: Settings) -> str:
    """What ``kensaku serve`` says on start about signing in to the admin pages.

    With no KENSAKU_ADMIN_TOKEN and no token in the data folder, this makes one (only its hash is
    kept) and returns the sign-in link that carries it, when the server listens on loopback or
    ``sign_in_link`` is "always": elsewhere stdout may land in logs others read, and the operator
    asks for a link with ``kensaku admin-token --rotate`` on the machine instead.
    """
    from services.web import admin_token

    admin = page_url(settings, "/admin")
    if settings.admin_token is not None:
        return f"Admin pages: {admin} (sign in with KENSAKU_ADMIN_TOKEN)"
    rotate = f"kensaku admin-token --rotate --data-dir {settings.data_dir}"
    if admin_token.read(settings.data_dir) is not None:
        return (f"Admin pages: {admin} (sign in with the link printed when this data folder was first served,"
                f" or get a new one: {rotate})")
    if settings.sign_in_link == "never" or (settings.sign_in_link == "auto" and not is_loopback(settings.host)):
        return (f"Admin pages: no admin token yet. None is printed while the server listens on {settings.host}"
                f" (stdout may reach shared logs): run `{rotate}` on this machine for a sign-in link,"
                " or set KENSAKU_ADMIN_TOKEN.")
    token = admin_token.create(settings.data_dir)
    return ("Open this link to sign in to the admin pages (it holds the admin token and is shown only once;"
            f" keep it private):\n  {page_url(settings, '/login?token=' + token)}")


def _admin_token(args: argparse.Namespace) -> int:
    from services.web import admin_token

    overrides: dict[str, Any] = {k: v for k, v in (("data_dir", args.data_dir), ("host", args.host),
                                                  ("port", args.port)) if v is not None}
    settings = Settings(**overrides)
    if settings.admin_token is not None:
        print("kensaku: KENSAKU_ADMIN_TOKEN is set and is the admin token; change it there.", file=sys.stderr,
              flush=True)
        return 2
    if not args.rotate:
        stored = admin_token.read(settings.data_dir)
        if stored is None:
            print(f"No admin token in {settings.data_dir}; `kensaku admin-token --rotate` makes one.", flush=True)
        else:
            made = time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(stored.created_at))
            print(f"An admin token made {made} is in {settings.data_dir} (only its hash);"
                  " `kensaku admin-token --rotate` replaces it and prints a new sign-in link.", flush=True)
        return 0
    replaced = admin_token.read(settings.data_dir) is not None
    token = admin_token.create(settings.data_dir)
    link = page_url(settings, "/login?token=" + token)
    print("A new admin token replaces the old one (sessions opened with the old one have ended).\n" if replaced
          else "An admin token was made.\n",
          f"Sign in with this link (it holds the token; keep it private):\n  {link}", sep="", flush=True)
    return 0


def _migrate(args: argparse.Namespace) -> int:
    """Apply the schema migrations of every component (services apply them on start too)."""
    from services.database import FILES, open_database
    from services.database.migrations import STEPS, migrate

    settings = Settings(**({"data_dir": args.data_dir} if args.data_dir is not None else {}))
    where = "PostgreSQL (KENSAKU_DATABASE_URL)" if settings.database_url is not None else str(settings.data_dir)
    print(f"migrating {where}", flush=True)
    for component in FILES:
        db = open_database(settings, component)
        try:
            done = migrate(db)
        finally:
            db.close()
        latest = STEPS[component][-1].version
        if done:
            span = f"{done[0].version}-{done[-1].version}" if len(done) > 1 else str(done[0].version)
            print(f"{component}: applied {span} (now version {latest}): " + "; ".join(s.name for s in done))
        else:
            print(f"{component}: up to date (version {latest})")
    return 0


def _analytics_consumer(args: argparse.Namespace) -> int:
    import signal
    import threading

    from analytics.service import clock_of
    from analytics.store import FILE_NAME, open_analytics_store
    from analytics.stream import RedisConsumer

    settings = Settings(**({"data_dir": args.data_dir} if args.data_dir is not None else {}))
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    store = open_analytics_store(settings)
    clock = clock_of(settings)

    def retention() -> int:
        return store.delete_older_than(clock() - settings.analytics_retention_days * 86_400.0)

    consumer = RedisConsumer(settings, store, maintenance=retention)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    consumer.start()
    print(f"Kensaku analytics consumer: {settings.redis_url} stream {settings.analytics_stream}"
          f" -> {'PostgreSQL' if settings.database_url else settings.data_dir / FILE_NAME}", flush=True)
    done.wait()
    consumer.stop()
    store.close()
    return 0


def _worker(args: argparse.Namespace) -> int:
    from connectors.distributed import worker_main
    from services.datasources.launch import queue_config, worker_runner

    overrides = {"data_dir": args.data_dir} if args.data_dir is not None else {}
    settings = Settings(**overrides)
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    worker_main(queue_config(settings), worker_runner(settings), args.concurrency)
    return 0


def _role(args: argparse.Namespace) -> int:
    """``kensaku indexer`` / ``kensaku beat`` (kensaku/roles.py)."""
    from pydantic import ValidationError

    from kensaku.roles import RoleRefused, run_beat, run_indexer

    try:
        settings = Settings(**({"data_dir": args.data_dir} if args.data_dir is not None else {}))
    except ValidationError as error:  # e.g. KENSAKU_TOPOLOGY=distributed on the embedded engine
        print(f"kensaku: {error}", file=sys.stderr, flush=True)
        return 2
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        (run_indexer if args.command == "indexer" else run_beat)(settings)
    except RoleRefused as error:
        print(f"kensaku: {error}", file=sys.stderr, flush=True)
        return 2
    return 0


def _search(args: argparse.Namespace) -> int:
    from services.chat.cli_search import run_search

    return run_search(args)


def _demo(args: argparse.Namespace) -> int:
    import os

    from botocore.exceptions import BotoCoreError, ClientError

    from services.demo.loader import DemoFailed, botocore_call, load_demo

    endpoint = args.endpoint or os.environ.get("AWS_ENDPOINT_URL_KENDRA") or "http://127.0.0.1:8000"
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    print(f"Loading Kensaku's sample (Japanese and English) into the index {args.index_name} at {endpoint}",
          flush=True)
    try:
        report = load_demo(botocore_call(endpoint, region), lambda line: print(line, flush=True),
                           index_name=args.index_name, reload=args.reload)
    except ClientError as error:
        e = error.response.get("Error", {})
        print(f"kensaku demo: {e.get('Code', 'Error')}: {e.get('Message', '')}", file=sys.stderr, flush=True)
        return 1
    except (BotoCoreError, DemoFailed) as error:
        print(f"kensaku demo: {error}", file=sys.stderr, flush=True)
        return 1
    for doc_id, reason in sorted(report.failed.items()):
        print(f"  failed: {doc_id}: {reason}", flush=True)
    loaded = report.total - len(report.failed)
    print(f"Done in {report.seconds:.1f} s: {loaded} of {report.total} sample documents in the index"
          f" {args.index_name} ({report.index_id}); {report.sent} sent now, {report.already} were already there.",
          flush=True)
    search = endpoint.rstrip("/")
    print(f"Search them at {search}/ (try 算出プロパティ, 経費精算 or computed properties). The search page shows"
          " the first ACTIVE index; delete this one on the admin page when you are done with it.", flush=True)
    return 1 if report.failed else 0


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
    serve = sub.add_parser("serve", help="run every service in one process (embedded mode); with"
                           " KENSAKU_TOPOLOGY=distributed, the Kendra API only")
    serve.add_argument("--host", help="address to listen on (KENSAKU_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (KENSAKU_PORT, default 8000)")
    serve.add_argument("--data-dir", type=Path, help="data folder (KENSAKU_DATA_DIR, default ./kensaku-data)")
    serve.add_argument("--trust-network", action="store_true",
                       help="serve an address other than loopback with KENSAKU_AUTH_MODE=off: everyone who can"
                            " reach it may call every operation (KENSAKU_TRUST_NETWORK)")
    serve.add_argument("--local-root", dest="local_roots", action="append", metavar="DIR",
                       help="a folder FILESYSTEM data sources may read (repeatable; added to"
                            " KENSAKU_CONNECTOR_LOCAL_ROOTS)")
    serve.set_defaults(func=_serve)
    token = sub.add_parser("admin-token", help="the admin pages' token made on first run: say whether there is one,"
                           " or --rotate to replace it and print a new sign-in link")
    token.add_argument("--rotate", action="store_true", help="make a new token (the old one stops working)")
    token.add_argument("--data-dir", type=Path, help="data folder (KENSAKU_DATA_DIR, default ./kensaku-data)")
    token.add_argument("--host", help="the server's address, for the link (KENSAKU_HOST)")
    token.add_argument("--port", type=int, help="the server's port, for the link (KENSAKU_PORT)")
    token.set_defaults(func=_admin_token)
    mig = sub.add_parser("migrate", help="apply the schema migrations to the data folder's SQLite files or to"
                         " the PostgreSQL database of KENSAKU_DATABASE_URL")
    mig.add_argument("--data-dir", type=Path, default=None)
    mig.set_defaults(func=_migrate)
    consumer = sub.add_parser("analytics-consumer",
                              help="distributed mode: write the analytics Redis stream into the analytics store")
    consumer.add_argument("--data-dir", type=Path, help="data folder (KENSAKU_DATA_DIR)")
    consumer.set_defaults(func=_analytics_consumer)
    worker = sub.add_parser("worker", help="run a Celery worker for connector syncs (distributed mode)")
    worker.add_argument("--concurrency", type=int, default=2, help="worker processes (default 2)")
    worker.add_argument("--data-dir", type=Path, help="the server's data folder (KENSAKU_DATA_DIR)")
    worker.set_defaults(func=_worker)
    indexer = sub.add_parser("indexer", help="distributed mode: write queued document changes to the engine"
                             " (any number of them; KENSAKU_TOPOLOGY=distributed)")
    indexer.add_argument("--data-dir", type=Path, help="data folder (KENSAKU_DATA_DIR)")
    indexer.set_defaults(func=_role)
    beat = sub.add_parser("beat", help="distributed mode: start scheduled syncs and settle sync jobs"
                          " (one per installation; KENSAKU_TOPOLOGY=distributed)")
    beat.add_argument("--data-dir", type=Path, help="data folder (KENSAKU_DATA_DIR)")
    beat.set_defaults(func=_role)
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
    demo = sub.add_parser("demo", help="load a small bundled sample of Japanese and English documents into an"
                          " index of a running server (made if missing; running it again adds nothing)")
    demo.add_argument("--endpoint", help="the server (AWS_ENDPOINT_URL_KENDRA, default http://127.0.0.1:8000)")
    demo.add_argument("--index-name", default="kensaku-demo", help="the index to load (default kensaku-demo)")
    demo.add_argument("--reload", action="store_true", help="send every document again (replaced, not doubled)")
    demo.set_defaults(func=_demo)
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
