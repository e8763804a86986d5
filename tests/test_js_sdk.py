"""The AWS SDK for JavaScript v3 (``@aws-sdk/client-kendra`` from the npm registry, pinned in
tests/js/package-lock.json) against a real ``kensaku serve``: ``node tests/js/paginators.mjs`` walks
every paginator the SDK exports, two items a page, plus one Query and one Retrieve. The resources it
lists are made through boto3 on a server of this module (3 thesauri an index, ``file://`` FAQ,
thesaurus and block-list files below a temporary folder). Real components: Node (Debian's or the
machine's), npm, the SDK, the Kensaku server process, boto3. botocore's Kendra model has no paginators
(``can_paginate`` is false for every operation), so the JS SDK's are the ones there are.

Skipped when ``node`` or ``npm`` is missing (``.ci/run`` installs Debian's ``nodejs`` and ``npm``)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROLE, Server, make_client, put_and_wait, text_doc, wait_active, wait_for

JS = Path(__file__).with_name("js")
EXPERIENCES = ("paginateListExperiences", "paginateListEntityPersonas", "paginateListExperienceEntities")


@pytest.fixture(scope="module")
def node_modules() -> Path:
    """``npm ci`` into tests/js/node_modules, once (kept between runs; the lock file pins the SDK)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("the JS SDK test needs Node and npm (Debian's nodejs and npm packages)")
    installed = JS / "node_modules" / "@aws-sdk" / "client-kendra" / "package.json"
    lock = json.loads((JS / "package-lock.json").read_text(encoding="utf-8"))
    wanted = lock["packages"]["node_modules/@aws-sdk/client-kendra"]["version"]
    if not installed.exists() or json.loads(installed.read_text(encoding="utf-8"))["version"] != wanted:
        started = time.monotonic()
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--prefix", str(JS)], check=True, timeout=600,
                       stdout=subprocess.DEVNULL)
        print(f"npm ci: {time.monotonic() - started:.1f}s")
    return JS / "node_modules"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Any, Path]]:
    files = tmp_path_factory.mktemp("js-files")
    srv = Server(tmp_path_factory.mktemp("js-data"), {
        "KENSAKU_LOCAL_FILES_ROOT": str(files), "KENSAKU_MAX_THESAURI_PER_INDEX": "3", "KENSAKU_EMBEDDER": "none",
        "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1",
    }).start()
    try:
        yield srv, make_client(srv.url), files
    finally:
        srv.stop()


def local(files: Path, name: str, text: str) -> dict[str, str]:
    path = files / name
    path.write_text(text, encoding="utf-8")
    return {"Bucket": "local", "Key": path.as_uri()}


def loaded(describe: Any, **ids: str) -> None:
    wait_for(lambda: describe(**ids)["Status"] not in ("CREATING", "UPDATING"), 60, "file read")
    assert describe(**ids)["Status"] == "ACTIVE", describe(**ids)


def build(kendra: Any, files: Path) -> dict[str, Any]:
    """Three (or more) of everything a paginator lists; what each one should walk."""
    indexes = [kendra.create_index(Name=f"js-{n}", RoleArn=ROLE)["Id"] for n in range(3)]
    for index_id in indexes:
        wait_active(kendra, index_id)
    index = indexes[0]
    put_and_wait(kendra, index, [text_doc(f"doc-{n}", f"customer {n} contract renewal terms") for n in range(3)])

    sources = [kendra.create_data_source(IndexId=index, Name=f"crm-{n}", Type="CUSTOM")["Id"] for n in range(3)]
    jobs = []
    for _ in range(3):  # three ended jobs on the first source
        jobs.append(kendra.start_data_source_sync_job(Id=sources[0], IndexId=index)["ExecutionId"])
        kendra.stop_data_source_sync_job(Id=sources[0], IndexId=index)
        wait_for(lambda: all(j["Status"] not in ("SYNCING", "SYNCING_INDEXING", "STOPPING")
                             for j in kendra.list_data_source_sync_jobs(Id=sources[0], IndexId=index)["History"]),
                 60, "sync job ended")

    faqs = [kendra.create_faq(IndexId=index, Name=f"faq-{n}", RoleArn=ROLE, S3Path=local(
        files, f"faq-{n}.csv", f'"How do I renew contract {n}?","Ask the account team."\n'))["Id"] for n in range(3)]
    for faq in faqs:
        loaded(kendra.describe_faq, IndexId=index, Id=faq)
    thesauri = [kendra.create_thesaurus(IndexId=index, Name=f"syn-{n}", RoleArn=ROLE, SourceS3Path=local(
        files, f"syn-{n}.txt", f"renewal{n}, extension{n}\n"))["Id"] for n in range(3)]
    for thesaurus in thesauri:
        loaded(kendra.describe_thesaurus, IndexId=index, Id=thesaurus)
    blocks = [kendra.create_query_suggestions_block_list(IndexId=index, Name=f"block-{n}", RoleArn=ROLE,
                                                         SourceS3Path=local(files, f"block-{n}.txt", f"blocked{n}\n"))
              ["Id"] for n in range(3)]
    for block in blocks:
        loaded(kendra.describe_query_suggestions_block_list, IndexId=index, Id=block)
    featured = [kendra.create_featured_results_set(
        IndexId=index, FeaturedResultsSetName=f"featured-{n}", QueryTexts=[f"featured query {n}"],
        FeaturedDocuments=[{"Id": f"doc-{n}"}])["FeaturedResultsSet"]["FeaturedResultsSetId"] for n in range(3)]
    acls = [kendra.create_access_control_configuration(
        IndexId=index, Name=f"acl-{n}", AccessControlList=[{"Name": f"team{n}", "Type": "GROUP", "Access": "ALLOW"}])
        ["Id"] for n in range(3)]
    groups = [f"group-{n}" for n in range(5)]
    for n, group in enumerate(groups, 1):
        kendra.put_principal_mapping(IndexId=index, GroupId=group, OrderingId=n,
                                     GroupMembers={"MemberUsers": [{"UserId": f"user{n}"}]})
    return {"index": index, "indexes": indexes, "sources": sources, "jobs": jobs, "faqs": faqs,
            "thesauri": thesauri, "blocks": blocks, "featured": featured, "acls": acls, "groups": groups}


def test_every_js_sdk_paginator_walks_all_its_pages(node_modules: Path,
                                                    client: tuple[Server, Any, Path]) -> None:
    srv, kendra, files = client
    made = build(kendra, files)
    started = time.monotonic()
    run = subprocess.run(["node", str(JS / "paginators.mjs"), srv.url, made["index"]], capture_output=True,
                         text=True, timeout=300, env={**os.environ, "AWS_ACCESS_KEY_ID": "test",
                                                      "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": "us-east-1"})
    assert run.returncode == 0, run.stderr
    print(f"node paginators.mjs: {time.monotonic() - started:.1f}s")
    out = json.loads(run.stdout)
    assert len(out["exported"]) >= 12, out["exported"]
    walked = out["paginators"]
    expected = {
        "paginateListIndices": made["indexes"], "paginateListDataSources": made["sources"],
        "paginateListFaqs": made["faqs"], "paginateListThesauri": made["thesauri"],
        "paginateListAccessControlConfigurations": made["acls"],
        "paginateListGroupsOlderThanOrderingId": made["groups"],
        "paginateListQuerySuggestionsBlockLists": made["blocks"],
    }
    assert set(walked) | {"paginateListDataSourceSyncJobs"} == set(out["exported"])
    assert not [name for name, got in walked.items() if got.get("error", {}).get("name") == "NotCovered"], walked
    for name, items in expected.items():
        got = walked[name]
        assert "error" not in got, (name, got)
        assert sorted(got["items"]) == sorted(items), (name, got)
        assert got["pages"] >= 2 and max(got["pageSizes"]) <= 2, (name, got)
    snapshots = walked["paginateGetSnapshots"]
    assert "error" not in snapshots and len(snapshots["items"]) == 7, snapshots  # one trend row a day
    assert snapshots["pages"] == 4 and max(snapshots["pageSizes"]) <= 2, snapshots
    for name in EXPERIENCES:  # deliberately refused: Kensaku's own search page stands in for Experiences
        error = walked[name]["error"]
        assert error["name"] == "ValidationException" and "search page" in error["message"], (name, error)
    jobs = out["syncJobs"]
    assert sorted(jobs[made["sources"][0]]["items"]) == sorted(made["jobs"]), jobs
    assert jobs[made["sources"][0]]["pages"] == 2, jobs
    assert all(jobs[ds]["items"] == [] and "error" not in jobs[ds] for ds in made["sources"][1:]), jobs
    featured = out["featuredResultsSets"]
    assert sorted(featured["items"]) == sorted(made["featured"]) and featured["pages"] >= 2, featured
    assert out["query"]["ids"] and set(out["query"]["ids"]) <= {"doc-0", "doc-1", "doc-2"}, out["query"]
    assert out["query"]["total"] == 3, out["query"]
    assert len(out["retrieve"]["ids"]) == 2 and out["retrieve"]["queryId"], out["retrieve"]
