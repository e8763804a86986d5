"""Build the sample that ``kensaku demo`` loads (services/demo/sample.jsonl.gz) from shared/data.

Run from the repository root: ``python tools/build_demo_sample.py [--shared ../shared]``. The output is
deterministic (same input, same bytes), so rebuilding it changes nothing in git unless the choice below does.

What goes in, and why (licences in services/demo/ATTRIBUTION.md):
* the Vue.js guide's "Essentials" pages, split into sections, Japanese and English (CC BY 4.0): the kind
  of internal technical wiki people search at work, with twin sections in both languages;
* paragraphs of 12 English Wikipedia articles (XQuAD, CC BY-SA 4.0) and 4 Japanese ones (JSQuAD,
  CC BY-SA 4.0), at most 15 paragraphs an article: general knowledge, so that a first query about anything is not empty;
* the six Office files written for this project (Word, PowerPoint, Excel; Japanese; fictitious):
  extraction of real file types, and facets by file type.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import io
import json
from collections import OrderedDict
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "services" / "demo" / "sample.jsonl.gz"
VUE_PAGES = "guide/essentials/"
XQUAD_ARTICLES = 12  # the first articles of xquad-en (five paragraphs each)
JSQUAD_ARTICLES = 4  # the first articles of jsquad-valid
PARAGRAPHS = 15  # at most, of each article
OFFICE_TYPES = {".docx": "MS_WORD", ".pptx": "PPT", ".xlsx": "MS_EXCEL"}


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def vue_sections(eval_dir: Path) -> list[dict[str, Any]]:
    out = []
    for doc in read_jsonl(eval_dir / "vue-nlq-dev" / "corpus.jsonl"):
        lang, key = doc["id"].split(":", 1)
        if key.startswith(VUE_PAGES):
            out.append({"id": f"vue/{lang}/{key}", "title": doc["title"], "text": doc["text"], "lang": lang,
                        "url": doc["url"], "category": "Vue.js"})
    return out


def wikipedia(eval_dir: Path, name: str, articles: int, lang: str) -> list[dict[str, Any]]:
    by_article: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()
    for doc in read_jsonl(eval_dir / name / "corpus.jsonl"):
        by_article.setdefault(doc["title"], []).append(doc)
    out = []
    for title in list(by_article)[:articles]:
        for n, doc in enumerate(by_article[title][:PARAGRAPHS], 1):
            out.append({"id": f"wikipedia/{lang}/{doc['id']}", "title": f"{title} ({n})", "text": doc["text"],
                        "lang": lang, "url": doc["url"], "category": "Wikipedia"})
    return out


def office_files(office_dir: Path) -> list[dict[str, Any]]:
    out = []
    for path in sorted((office_dir / "authored").rglob("*")):
        if path.suffix in OFFICE_TYPES:
            relative = path.relative_to(office_dir / "authored").as_posix()
            out.append({"id": f"files/{relative}", "title": path.stem.replace("_", " "), "lang": "ja",
                        "content_type": OFFICE_TYPES[path.suffix], "category": relative.split("/")[0],
                        "blob": base64.b64encode(path.read_bytes()).decode("ascii")})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared", help="the shared/ folder")
    args = parser.parse_args()
    data = args.shared / "data"
    docs = (vue_sections(data / "eval") + wikipedia(data / "eval", "xquad-en", XQUAD_ARTICLES, "en")
            + wikipedia(data / "eval", "jsquad-valid", JSQUAD_ARTICLES, "ja")
            + office_files(data / "corpora" / "office"))
    assert len({d["id"] for d in docs}) == len(docs), "document ids repeat"
    raw = io.BytesIO()
    with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, compresslevel=9) as gz:  # mtime=0: same bytes each build
        for doc in docs:
            gz.write((json.dumps(doc, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8"))
    OUT.write_bytes(raw.getvalue())
    langs = {lang: sum(d["lang"] == lang for d in docs) for lang in ("ja", "en")}
    print(f"{OUT.relative_to(REPO)}: {len(docs)} documents ({langs['ja']} ja, {langs['en']} en),"
          f" {len(raw.getvalue()):,} bytes")


if __name__ == "__main__":
    main()
