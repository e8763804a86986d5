"""The search page in a real browser: page weight, and time from Enter to the first results painted.

    python bench/web.py [--docs 100000] [--queries 40] [--endpoint URL]

1. Starts a server (or uses ``--endpoint``, whose first ACTIVE index the page searches) and fills an
   index with ``--docs`` synthetic ~1 KB documents, half Japanese, built by bench/latency.py's ``Corpus``
   (dept and tags facetable, so the page asks for those facets with every query).
2. Page weight: the bytes of every GET the search page loads before any data (HTML, scripts, styles,
   /config.json), as served (uncompressed; Kensaku does not compress).
3. Latency: Debian's chromium (Playwright, headless) opens ``/``, types a query and presses Enter; a
   listener registered before the key press notes ``performance.now()`` at keydown, a MutationObserver
   notes when the result list is filled, and two animation frames later the results have been painted.
   Queries alternate one Japanese and one English word, Zipf-drawn from the corpus vocabularies, searched
   in both languages (the page's default, lang=all, PageSize 10, facets). A fresh page load each query.
Prints a table (p50 / p95 / max ms) and the page weight; target: weight < 300 KB, p95 < 300 ms.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness import (  # noqa: E402
    BenchError,
    LocalServer,
    call,
    chunks,
    create_index,
    indexed_count,
    make_client,
    percentile,
    put_documents,
    wait_index_active,
)
from latency import Corpus  # noqa: E402
from metrics import markdown_table  # noqa: E402

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

# Runs in the page before Enter; window.__measure resolves with ms from keydown to the frame after results appear.
MEASURE = """() => { window.__measure = new Promise((resolve) => {
  const list = document.getElementById('result-list');
  const empty = document.getElementById('empty');
  let pressed = null;
  document.getElementById('q').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && pressed === null) pressed = performance.now();
  }, { capture: true });
  const done = () => requestAnimationFrame(() => requestAnimationFrame(() =>
    resolve({ ms: performance.now() - pressed, results: list.children.length })));
  const observer = new MutationObserver(() => {
    if (pressed !== null && (list.children.length || !empty.hidden)) { observer.disconnect(); done(); }
  });
  observer.observe(list, { childList: true });
  observer.observe(empty, { attributes: true });
}); }"""


def fill_index(client, docs: int, workers: int) -> str:
    corpus = Corpus(docs)
    index_id = create_index(client, "web-bench")
    call(client.update_index, Id=index_id, DocumentMetadataConfigurationUpdates=[
        {"Name": "dept", "Type": "STRING_VALUE",
         "Search": {"Facetable": True, "Searchable": True, "Displayable": True, "Sortable": True}},
        {"Name": "tags", "Type": "STRING_LIST_VALUE", "Search": {"Facetable": True, "Displayable": True}},
        {"Name": "year", "Type": "LONG_VALUE", "Search": {"Facetable": True, "Sortable": True, "Displayable": True}},
    ])
    wait_index_active(client, index_id)
    t0 = time.perf_counter()
    put = put_documents(client, index_id, chunks(corpus.documents(), 10), workers=workers)
    if put["errors"] or put["failed"]:
        raise BenchError(f"puts failed: {(put['errors'] or put['failed'])[:1]}")
    while indexed_count(client, index_id) != docs:
        if time.perf_counter() - t0 > 3600:
            raise BenchError("documents not indexed within an hour")
        time.sleep(0.5)
    print(f"# {docs} documents indexed in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return index_id


def queries(n: int, seed: int) -> list[tuple[str, str]]:
    corpus = Corpus(1, seed)
    rng = random.Random(seed)
    out = []
    for k in range(n):
        if k % 2 == 0:
            out.append(("1 word ja", rng.choices(corpus.ja_nouns, cum_weights=corpus.ja_noun_cw)[0]))
        else:
            out.append(("1 word en", rng.choices(corpus.en_words, cum_weights=corpus.en_cw)[0]))
    return out


def page_weight(browser, url: str) -> tuple[int, dict[str, int]]:
    context = browser.new_context()
    page = context.new_page()
    sizes: dict[str, int] = {}
    page.on("requestfinished", lambda r: sizes.__setitem__(r.url, len(r.response().body()))
            if r.method == "GET" else None)
    page.goto(url + "/")
    page.wait_for_selector("body[data-ready=true]")
    page.wait_for_load_state("networkidle")
    context.close()
    return sum(sizes.values()), sizes


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--endpoint", help="a running server (its first ACTIVE index is searched)")
    ap.add_argument("--docs", type=int, default=100_000, help="documents to index when starting a server (100000)")
    ap.add_argument("--queries", type=int, default=40, help="measured searches (40)")
    ap.add_argument("--warmup", type=int, default=4)
    ap.add_argument("--put-workers", type=int, default=4)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    args = ap.parse_args(argv)

    from playwright.sync_api import sync_playwright

    server = None if args.endpoint else LocalServer()
    try:
        if server:
            server.__enter__()
            fill_index(make_client(server.endpoint, pool=args.put_workers * 2 + 4), args.docs, args.put_workers)
        url = args.endpoint or server.endpoint
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS, headless=True)
            weight, sizes = page_weight(browser, url)
            context = browser.new_context(bypass_csp=True)
            page = context.new_page()
            times: dict[str, list[float]] = {}
            counts: list[int] = []
            for n, (kind, word) in enumerate(queries(args.warmup + args.queries, args.seed)):
                page.goto(url + "/")
                page.wait_for_selector("body[data-ready=true]")
                page.evaluate(MEASURE)
                page.fill("#q", word)
                page.keyboard.press("Enter")
                result = page.evaluate("() => window.__measure")
                if n >= args.warmup:
                    times.setdefault(kind, []).append(result["ms"])
                    counts.append(result["results"])
            browser.close()
    finally:
        if server:
            server.__exit__(None, None, None)

    rows = []
    for kind, values in sorted(times.items()) + [("all", [v for vs in times.values() for v in vs])]:
        rows.append([kind, str(len(values)), f"{statistics.median(values):.0f}", f"{percentile(values, 95):.0f}",
                     f"{max(values):.0f}"])
    print(f"Search page, Enter → first results painted (Debian chromium, headless; {args.docs} documents; "
          f"mean {statistics.mean(counts):.1f} results shown)\n")
    print(markdown_table(["queries", "n", "p50 ms", "p95 ms", "max ms"], rows))
    print(f"\nPage weight before data: {weight / 1024:.1f} KB in {len(sizes)} files (target < 300 KB)")
    for name, size in sorted(sizes.items(), key=lambda kv: -kv[1]):
        print(f"  {size / 1024:6.1f} KB  {name.replace(url, '')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
