"""CONFLUENCE sources against a local stand-in that speaks the documented Cloud REST API v2
(tests/confluence_standin.py: hand-written fixtures, not a real Confluence — none can run here)."""

from __future__ import annotations

from typing import Any

from tests.confluence_standin import ConfluenceStandIn, Site
from tests.conftest import ROLE, ids_of
from tests.sync_helpers import metrics, sync, template


def _site() -> Site:
    site = Site()
    site.add_space("65537", "ENG", "Engineering")
    site.add_space("65538", "HR", "Human Resources")
    site.add_space("65539", "OLD", "Archive")
    site.put_page("101", "65537", "Runbooks", "<p>Index of runbooks for the axolotl cluster.</p>")
    site.put_page("102", "65537", "Database failover", "<h1>Failover</h1><p>Promote the replica of the "
                  "axolotl database.</p>", labels=["oncall", "postgres"], parent="101")
    site.put_page("103", "65537", "Deploys", "<p>How deploys reach the axolotl cluster.</p>", parent="101")
    site.put_page("201", "65538", "休暇規程", "<p>年次有給休暇の申請はワークフローから行う。</p>", labels=["人事"])
    site.put_page("202", "65538", "Expenses", "<p>Expense reports for axolotl food.</p>")
    site.put_page("301", "65539", "Old page", "<p>axolotl archive, not synced</p>")
    return site


def _source(kendra: Any, index: str, url: str, token: str = "api-token-1") -> str:
    ds: str = kendra.create_data_source(IndexId=index, Name=f"conf-{token}", Type="TEMPLATE", RoleArn=ROLE,
                                        Configuration=template("CONFLUENCE", baseUrl=url, username="bot@example.com",
                                                               apiToken=token, spaceKeys=["ENG", "HR"]))["Id"]
    return ds


def test_confluence_source_syncs_spaces_pages_labels_and_ancestors(kendra: Any, new_index: Any) -> None:
    site = _site()
    with ConfluenceStandIn(site) as conf:
        index = new_index()
        ds = _source(kendra, index, conf.url)
        job = sync(kendra, index, ds)
        assert job["Status"] == "SUCCEEDED", job
        assert metrics(job) == {"Added": 5, "Modified": 0, "Deleted": 0, "Failed": 0, "Scanned": 5}
        assert any("cursor=" in r for r in site.requests), "listings were paged through _links.next"
        r = kendra.query(IndexId=index, QueryText="postgres oncall", RequestedDocumentAttributes=["_category",
                                                                                                 "_authors"])
        item = r["ResultItems"][0]
        assert item["DocumentId"] == f"{conf.url}/pages/102"
        assert item["DocumentURI"] == f"{conf.url}/spaces/ENG/pages/102"
        assert item["DocumentTitle"]["Text"] == "Database failover"
        attrs = {a["Key"]: a["Value"] for a in item["DocumentAttributes"]}
        assert attrs == {"_category": {"StringValue": "Engineering"}, "_authors": {"StringListValue":
                                                                                  ["557058:alice"]}}
        assert ids_of(kendra.query(IndexId=index, QueryText="Runbooks"))[:1] == [f"{conf.url}/pages/101"]
        assert f"{conf.url}/pages/102" in ids_of(kendra.query(IndexId=index, QueryText="Runbooks"))  # breadcrumb
        assert f"{conf.url}/pages/301" not in ids_of(kendra.query(IndexId=index, QueryText="axolotl"))

        site.requests.clear()
        site.put_page("103", "65537", "Deploys", "<p>Deploys now use the quetzal pipeline.</p>", parent="101")
        del site.pages["202"]
        site.put_page("204", "65538", "Onboarding", "<p>Welcome pack with a quetzal sticker.</p>")
        job = sync(kendra, index, ds)
        assert metrics(job) == {"Added": 1, "Modified": 1, "Deleted": 1, "Failed": 0, "Scanned": 5}, job
        fetched = sorted(r.split("?")[0] for r in site.requests if "body-format=storage" in r)
        assert fetched == ["/wiki/api/v2/pages/103", "/wiki/api/v2/pages/204"], "only changed pages are fetched"
        assert len(ids_of(kendra.query(IndexId=index, QueryText="quetzal"))) == 2
        assert ids_of(kendra.query(IndexId=index, QueryText="Expenses")) == []


def test_confluence_bad_token_fails_the_job(kendra: Any, new_index: Any) -> None:
    with ConfluenceStandIn(_site()) as conf:
        index = new_index()
        job = sync(kendra, index, _source(kendra, index, conf.url, token="wrong"))
        assert (job["Status"], job["DataSourceErrorCode"]) == ("FAILED", "CredentialsRejected"), job
        assert "Unauthorized" in job["ErrorMessage"]
