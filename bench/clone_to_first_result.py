"""Time from ``git clone`` to the first search result in a browser, as the README's quick start goes.

    python bench/clone_to_first_result.py [--repo PATH_OR_URL] [--branch NAME] [--pip-cache DIR] [--runs 2]

Each run, in a new temporary folder:
1. ``git clone`` the repository (default: the one this script is in; ``--branch``: the branch to check out);
2. ``make serve ARGS="--port P --local-root FOLDER"`` there, as a user types it: a fresh virtual environment
   with ``python3 -m venv``, ``pip install -e .`` (no torch), then ``kensaku serve`` on a new data folder;
   timed until the sign-in link is printed;
3. in Debian's chromium (Playwright, from the interpreter running this script), the clicks of
   tests/first_run_flow.py: open the link, create an index, add FOLDER (the project's six Office files and
   two text files) as a FILESYSTEM data source, sync it to SUCCEEDED, search a word of a PowerPoint file.

pip's cache is ``--pip-cache`` (default: a new empty folder, shared by the runs of this invocation), so
with ``--runs 2`` the first run downloads every wheel from the package index (a new machine) and the
second one may install from the cache the first one filled (a second clone on the same machine). Each
run prints the cache's size at its start: on the machine the README's numbers come from, pip left its
cache empty (it logged "Updating cache" and wrote nothing), so every run there downloaded every wheel.
Needs ../shared/data (the Office files), make, git, python3 (3.11+) and /usr/bin/chromium.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kensaku.local_server import free_port  # noqa: E402
from tests.browser import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.first_run_flow import LINK, walk_first_run  # noqa: E402
from tests.sync_helpers import office_folder  # noqa: E402

READY = re.compile(r"Kendra API on http://")


def one_run(repo: str, branch: str | None, pip_cache: Path) -> dict[str, float]:
    """One clone-to-result run; the seconds of each step."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="kensaku-clone-") as tmp:
        root = Path(tmp)
        folder = office_folder(root / "share")
        times: dict[str, float] = {}
        t0 = time.monotonic()
        subprocess.run(["git", "clone", "-q", *(["--branch", branch] if branch else []), repo, str(root / "kensaku")],
                       check=True)
        times["clone"] = time.monotonic() - t0
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KENSAKU_", "VIRTUAL_ENV", "PYTHON"))}
        env["PIP_CACHE_DIR"] = str(pip_cache)
        make = subprocess.Popen(["make", "serve", f"ARGS=--port {port} --local-root {folder}"], cwd=root / "kensaku",
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)  # its own process group: stopped as one at the end
        try:
            assert make.stdout is not None
            link = None
            while link is None:
                line = make.stdout.readline()
                if not line:
                    raise RuntimeError(f"make serve ended ({make.wait()}) before printing a sign-in link")
                if READY.search(line) and "serving" not in times:
                    times["serving"] = time.monotonic() - t0  # installed, imported, app built
                if found := LINK.search(line):
                    link = found.group(0)
            times["link"] = time.monotonic() - t0
            # keep reading the server's output: a full pipe would block its logging, and so the server
            threading.Thread(target=lambda: [None for _ in make.stdout or ()], daemon=True).start()
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
                context = browser.new_context(viewport={"width": 1200, "height": 900}, locale="en-US")
                context.set_default_timeout(60_000)
                _, at = walk_first_run(context.new_page(), f"http://127.0.0.1:{port}", link, folder)
                browser.close()
            times["first result"] = at - t0
        finally:
            os.killpg(make.pid, signal.SIGTERM)
            make.wait(timeout=60)
        return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", default=str(REPO), help="what to clone (default: this repository)")
    parser.add_argument("--branch", help="the branch to check out (default: the repository's HEAD)")
    parser.add_argument("--pip-cache", type=Path, help="pip's cache (default: a new empty folder)")
    parser.add_argument("--runs", type=int, default=2, help="runs, the first with the cache as given (default 2)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kensaku-pip-cache-") as fresh:
        cache = args.pip_cache or Path(fresh)
        for n in range(1, args.runs + 1):
            size = sum(f.stat().st_size for f in cache.rglob("*") if f.is_file()) / 1e6
            load = os.getloadavg()[0]
            print(f"run {n} (pip cache {size:.1f} MB, {os.cpu_count()} cores, load {load:.1f}) ...", flush=True)
            times = one_run(args.repo, args.branch, cache)
            print("  " + ", ".join(f"{k} at {v:.1f} s" for k, v in times.items()), flush=True)


if __name__ == "__main__":
    main()
