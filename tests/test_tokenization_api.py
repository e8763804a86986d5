"""Every case of the shared tokenization set, through the real API.

A ``match`` case's document must be returned for its query under the ``ja`` filter; a ``no_match``
case's must not. Cases share one index by giving each document its own ``case`` attribute and
filtering on it, which keeps every case isolated while indexing once.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import JA, SHARED, ids_of, put_and_wait, text_doc, wait_active

pytestmark = pytest.mark.engines

CASES = [json.loads(line) for line in (SHARED / "data/eval/tokenization-dev.jsonl").read_text("utf-8").splitlines()
         if line.strip()]


@pytest.fixture(scope="module")
def tokenization_index(kendra: Any) -> Any:
    index_id = kendra.create_index(Name="tokenization", RoleArn="arn:aws:iam::000000000000:role/kendra")["Id"]
    wait_active(kendra, index_id)
    kendra.update_index(Id=index_id, DocumentMetadataConfigurationUpdates=[{"Name": "case", "Type": "STRING_VALUE"}])
    wait_active(kendra, index_id)
    put_and_wait(kendra, index_id, [
        text_doc(c["id"], c["doc"], lang="ja", attributes=[{"Key": "case", "Value": {"StringValue": c["id"]}}])
        for c in CASES
    ])
    yield index_id
    kendra.delete_index(Id=index_id)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_tokenization_case_through_query(kendra: Any, tokenization_index: str, case: dict[str, Any]) -> None:
    only_this = {"AndAllFilters": [JA, {"EqualsTo": {"Key": "case", "Value": {"StringValue": case["id"]}}}]}
    found = case["id"] in ids_of(kendra.query(IndexId=tokenization_index, QueryText=case["query"],
                                              AttributeFilter=only_this))
    assert found == (case["expect"] == "match"), case["why"]


def test_no_false_matches_across_the_whole_set(kendra: Any, tokenization_index: str) -> None:
    """Without the per-case filter: a no_match case's document is never returned for its query."""
    for case in CASES:
        if case["expect"] == "no_match":
            r = kendra.query(IndexId=tokenization_index, QueryText=case["query"], AttributeFilter=JA, PageSize=100)
            assert case["id"] not in ids_of(r), case["why"]
