"""Principals never collide (issue 20, item 4): a group named ``hr@ds1`` is not group ``hr`` of data
source ``ds1``, in allow and deny lists, through UserContext and ``_group_ids`` filters; and a data folder
indexed with the old, colliding terms is rebuilt on start."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path
from typing import Any

from services.datasources.jobs import JobTracker
from services.index.documents import build_version, lexical_document
from services.index.service import IndexService
from services.index.store import Store
from services.settings import Settings
from tests.conftest import ROLE, Server, ids_of, make_client, put_and_wait, text_doc, wait_active, wait_for

DS_HR = {"Name": "hr", "Type": "GROUP", "Access": "ALLOW", "DataSourceId": "ds1"}
AT_HR = {"Name": "hr@ds1", "Type": "GROUP", "Access": "ALLOW"}
DS_GROUPS = {"DataSourceGroups": [{"GroupId": "hr", "DataSourceId": "ds1"}]}


def visible(client: Any, index_id: str, **kwargs: Any) -> set[str]:
    return set(ids_of(client.query(IndexId=index_id, QueryText="payroll", **kwargs)))


def test_a_group_named_with_an_at_sign_is_not_a_data_source_group(kendra: Any, new_index: Any) -> None:
    index_id = new_index()
    put_and_wait(kendra, index_id, [
        text_doc("ds-hr", "payroll of ds1's hr", AccessControlList=[DS_HR]),
        text_doc("at-hr", "payroll of the group hr@ds1", AccessControlList=[AT_HR]),
        text_doc("not-ds-hr", "payroll hidden from ds1's hr", AccessControlList=[{**DS_HR, "Access": "DENY"}]),
    ])
    assert visible(kendra, index_id, UserContext={"UserId": "u", "Groups": ["hr@ds1"]}) == {"at-hr", "not-ds-hr"}
    assert visible(kendra, index_id, AttributeFilter={
        "EqualsTo": {"Key": "_group_ids", "Value": {"StringValue": "hr@ds1"}}}) == {"at-hr", "not-ds-hr"}
    assert visible(kendra, index_id, UserContext={"UserId": "u", **DS_GROUPS}) == {"ds-hr"}
    assert visible(kendra, index_id, UserContext={"UserId": "u", "Groups": ["hr"]}) == {"not-ds-hr"}
    assert visible(kendra, index_id, UserContext={"UserId": "hr@ds1"}) == {"not-ds-hr"}  # a user is no group


def test_an_index_with_the_old_colliding_terms_is_rebuilt_on_start(tmp_path: Path) -> None:
    srv = Server(tmp_path).start()
    client = make_client(srv.url)
    index_id = client.create_index(Name="old-terms", RoleArn=ROLE)["Id"]
    wait_active(client, index_id)
    put_and_wait(client, index_id, [text_doc("ds-hr", "payroll of ds1's hr", AccessControlList=[DS_HR])])
    srv.stop()
    _write_old_terms(tmp_path, index_id)
    as_at_hr = {"UserContext": {"UserId": "u", "Groups": ["hr@ds1"]}}

    srv = Server(tmp_path).start()  # the format is not marked old: the old term is served as it is
    try:
        assert visible(make_client(srv.url), index_id, **as_at_hr) == {"ds-hr"}
    finally:
        srv.stop()

    with sqlite3.connect(tmp_path / "kensaku.sqlite3") as conn:  # what an older release recorded
        conn.execute("UPDATE indexes SET analyzer = ? WHERE id = ?",
                     (build_version().rsplit(";terms=", 1)[0], index_id))
    srv = Server(tmp_path).start()
    try:
        client = make_client(srv.url)
        wait_for(lambda: visible(client, index_id, **as_at_hr) == set(), what="the index rebuilt")
        wait_active(client, index_id)
        assert visible(client, index_id, UserContext={"UserId": "u", **DS_GROUPS}) == {"ds-hr"}
        with sqlite3.connect(tmp_path / "kensaku.sqlite3") as conn:
            (version,) = conn.execute("SELECT analyzer FROM indexes WHERE id = ?", (index_id,)).fetchone()
        assert version == build_version()
    finally:
        srv.stop()


def _write_old_terms(data_dir: Path, index_id: str) -> None:
    """Rewrite the document's lexical entry with the term the first format gave ``hr`` of ``ds1``."""
    settings = Settings.model_validate({"data_dir": data_dir, "embedder": "none"})
    indexes = IndexService(settings, store := Store(data_dir / "kensaku.sqlite3"), jobs=JobTracker(store))
    try:
        (doc,) = indexes.store.documents(index_id, ["ds-hr"]).values()
        lexical = lexical_document(doc.doc_id, doc.title, doc.body, doc.attributes, doc.acl,
                                   indexes.fields(index_id))
        lex = indexes.lexical(index_id)
        lex.upsert([dataclasses.replace(lexical, acl_allow=["g:hr@ds1"])])
        lex.commit()
    finally:
        indexes.close()
