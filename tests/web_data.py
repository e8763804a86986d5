"""A small bilingual corpus for the browser tests: expense and VPN pages with categories, file types,
authors, dates and links, plus one hostile document whose title and body are HTML and script."""

from __future__ import annotations

import time
import uuid
from typing import Any

from tests.browser import DOCUMENT_SITE
from tests.conftest import ROLE, put_and_wait, text_doc, wait_active

FACETS = ("_category", "_file_type", "_authors")
HOSTILE_TITLE = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>経費精算の罠'
HOSTILE_BODY = '経費精算 <script>window.__xss=3</script> <b onclick="window.__xss=4">太字</b> の説明'


def _attrs(category: str, file_type: str, author: str, days_ago: float, uri: str) -> list[dict[str, Any]]:
    return [
        {"Key": "_category", "Value": {"StringValue": category}},
        {"Key": "_file_type", "Value": {"StringValue": file_type}},
        {"Key": "_authors", "Value": {"StringListValue": [author]}},
        {"Key": "_last_updated_at", "Value": {"DateValue": time.time() - days_ago * 86400}},
        {"Key": "_source_uri", "Value": {"StringValue": uri}},
    ]


def corpus() -> list[dict[str, Any]]:
    """24 Japanese expense pages (3 categories, 2 file types), 6 English VPN pages, 1 hostile page."""
    docs = []
    categories = ("経理", "総務", "人事")
    for n in range(24):
        category = categories[n % 3]
        docs.append(text_doc(
            f"keihi-{n:02d}",
            f"経費精算の手順 その{n}。領収書を添付して、月末までに{category}部へ申請してください。"
            f"交通費と出張費の精算も同じ流れです。",
            title=f"経費精算ガイド {n}（{category}）", lang="ja",
            attributes=_attrs(category, "PDF" if n % 2 else "HTML", f"author{n % 4}", n * 3,
                              f"{DOCUMENT_SITE}/doc/keihi-{n:02d}")))
    for n in range(6):
        docs.append(text_doc(
            f"vpn-{n}", f"How to connect to the office VPN, step {n}. Install the client and sign in.",
            title=f"VPN setup guide {n}", lang="en",
            attributes=_attrs("IT", "HTML", "it-team", n, f"{DOCUMENT_SITE}/doc/vpn-{n}")))
    docs.append(text_doc("hostile", HOSTILE_BODY, title=HOSTILE_TITLE, lang="ja",
                         attributes=_attrs("総務", "HTML", "mallory", 1, f"{DOCUMENT_SITE}/doc/hostile")))
    return docs


def make_index(client: Any) -> str:
    """An ACTIVE index with facetable built-in fields, holding ``corpus``."""
    index_id: str = client.create_index(Name=f"web-{uuid.uuid4().hex[:6]}", RoleArn=ROLE)["Id"]
    wait_active(client, index_id)
    client.update_index(Id=index_id, DocumentMetadataConfigurationUpdates=[
        {"Name": name, "Type": "STRING_LIST_VALUE" if name == "_authors" else "STRING_VALUE",
         "Search": {"Facetable": True, "Searchable": False, "Displayable": True,
                    "Sortable": name != "_authors"}}
        for name in FACETS
    ] + [{"Name": "_last_updated_at", "Type": "DATE_VALUE",
          "Search": {"Facetable": False, "Searchable": False, "Displayable": True, "Sortable": True}}])
    wait_active(client, index_id)
    put_and_wait(client, index_id, corpus())
    return index_id
