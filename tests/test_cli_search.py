"""``kensaku search`` run as a real process against a real server."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from tests.conftest import JA, REPO, Server, put_and_wait, text_doc


def search(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kensaku.cli", "search", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=60)


def test_search_prints_the_same_results_as_a_kendra_query(server: Server, kendra: Any, new_index: Any) -> None:
    index_id = new_index()
    put_and_wait(kendra, index_id, [
        text_doc("keihi", "経費精算の締め日は毎月25日です。", title="経費精算ガイド", lang="ja",
                 attributes=[{"Key": "_source_uri", "Value": {"StringValue": "https://wiki.example.com/keihi"}}]),
        text_doc("kyoto", "京都出張の経費精算について。", title="出張", lang="ja"),
        text_doc("vpn", "VPN setup guide", title="VPN", lang="en"),
    ])
    expected = [i["DocumentId"] for i in
                kendra.query(IndexId=index_id, QueryText="経費精算の締め日", AttributeFilter=JA)["ResultItems"]]
    as_json = search("経費精算の締め日", "--json", "--endpoint", server.url, "--index", index_id)
    assert as_json.returncode == 0, as_json.stderr
    assert [i["DocumentId"] for i in json.loads(as_json.stdout)["ResultItems"]] == expected
    as_text = search("経費精算の締め日", "--endpoint", server.url, "--index", index_id, "--results", "1")
    assert as_text.returncode == 0, as_text.stderr
    assert as_text.stdout.startswith("1. 経費精算ガイド\n   https://wiki.example.com/keihi\n")
    assert "for “経費精算の締め日” (ja)" in as_text.stdout
    both = search("setup 締め日", "--lang", "all", "--json", "--endpoint", server.url, "--index", index_id)
    assert sorted(i["DocumentId"] for i in json.loads(both.stdout)["ResultItems"]) == ["keihi", "vpn"]
    ja_only = search("VPN 締め日", "--json", "--endpoint", server.url, "--index", index_id)  # detected: ja
    assert [i["DocumentId"] for i in json.loads(ja_only.stdout)["ResultItems"]] == ["keihi"]


def test_search_reports_kendra_errors_and_a_missing_index_choice(server: Server) -> None:
    missing = search("vpn", "--endpoint", server.url, "--index", "0" * 36)
    assert missing.returncode == 1 and "ResourceNotFoundException" in missing.stderr
    bad = search("vpn", "--lang", "fr")
    assert bad.returncode == 2 and "invalid choice" in bad.stderr
