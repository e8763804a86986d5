"""Resource tags through boto3: TagResource / UntagResource / ListTagsForResource on every taggable
kind, Tags at creation, Kendra's ARNs, limits, and tags going with their resource."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import ROLE, Server, state_rows, wait_for

pytestmark = pytest.mark.databases  # the tests on the shared server run with PostgreSQL too

ARN = "arn:aws:kendra:us-east-1:123456789012:index/{}"


def tags_of(kendra: Any, arn: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in kendra.list_tags_for_resource(ResourceARN=arn)["Tags"]}


def stored(server: Server, index: str) -> list[str]:
    """The resources of ``index`` the server's store still holds tags of."""
    rows = state_rows(server, "store", "SELECT DISTINCT resource FROM tags WHERE resource LIKE ?", (f"index/{index}%",))
    return [r[0] for r in rows]


def resources(kendra: Any, index: str) -> dict[str, str]:
    """One resource of each kind built here, created with a tag, by its ARN."""
    initial = [{"Key": "team", "Value": "search"}]
    source = kendra.create_data_source(IndexId=index, Name="crm", Type="CUSTOM", Tags=initial)["Id"]
    faq = kendra.create_faq(IndexId=index, Name="faq", RoleArn=ROLE, Tags=initial,
                            S3Path={"Bucket": "no-bucket", "Key": "faq.csv"})["Id"]
    featured = kendra.create_featured_results_set(
        IndexId=index, FeaturedResultsSetName="f", Tags=initial)["FeaturedResultsSet"]["FeaturedResultsSetId"]
    block_list = kendra.create_query_suggestions_block_list(
        IndexId=index, Name="blocked", RoleArn=ROLE, Tags=initial,
        SourceS3Path={"Bucket": "no-bucket", "Key": "block.txt"})["Id"]
    base = ARN.format(index)
    return {"data source": f"{base}/data-source/{source}", "faq": f"{base}/faq/{faq}",
            "featured results set": f"{base}/featured-results-set/{featured}",
            "block list": f"{base}/query-suggestions-block-list/{block_list}"}


def test_tags_round_trip_on_every_kind_and_at_creation(kendra: Any, new_index: Any) -> None:
    index = new_index(Tags=[{"Key": "team", "Value": "search"}])
    arns = {"index": ARN.format(index), **resources(kendra, index)}
    for kind, arn in arns.items():
        assert tags_of(kendra, arn) == {"team": "search"}, kind
        kendra.tag_resource(ResourceARN=arn, Tags=[{"Key": "env", "Value": "prod"}, {"Key": "Team", "Value": "ir"},
                                                   {"Key": "note", "Value": ""}])
        # Keys are case-insensitive: "Team" replaced "team".
        assert tags_of(kendra, arn) == {"Team": "ir", "env": "prod", "note": ""}, kind
        kendra.untag_resource(ResourceARN=arn, TagKeys=["TEAM", "absent"])
        assert tags_of(kendra, arn) == {"env": "prod", "note": ""}, kind
    # Another region or account in the ARN names the same resource: Kensaku is one account, one region.
    assert tags_of(kendra, f"arn:aws:kendra:ap-northeast-1:999999999999:index/{index}") == {"env": "prod", "note": ""}
    # Japanese and the allowed symbols.
    kendra.tag_resource(ResourceARN=ARN.format(index), Tags=[{"Key": "部署", "Value": "人事 部/a_b.c:d=e+f-g@h"}])
    assert tags_of(kendra, ARN.format(index))["部署"] == "人事 部/a_b.c:d=e+f-g@h"


def test_unknown_and_malformed_arns(kendra: Any, new_index: Any) -> None:
    index = new_index()
    unknown = [ARN.format("0" * 36), f"{ARN.format(index)}/faq/{'1' * 36}",
               f"{ARN.format(index)}/data-source/nope", f"{ARN.format(index)}/thesaurus/{'2' * 36}",
               f"{ARN.format(index)}/experience/{'3' * 36}"]
    for arn in unknown:
        with pytest.raises(kendra.exceptions.ResourceUnavailableException):
            kendra.list_tags_for_resource(ResourceARN=arn)
        with pytest.raises(kendra.exceptions.ResourceUnavailableException):
            kendra.tag_resource(ResourceARN=arn, Tags=[{"Key": "a", "Value": "b"}])
        with pytest.raises(kendra.exceptions.ResourceUnavailableException):
            kendra.untag_resource(ResourceARN=arn, TagKeys=["a"])
    for arn in ("not-an-arn", f"arn:aws:s3:::bucket/index/{index}", f"arn:aws:kendra:us-east-1:12:index/{index}"):
        with pytest.raises(kendra.exceptions.ValidationException, match="not a Kendra ARN"):
            kendra.list_tags_for_resource(ResourceARN=arn)


def test_tag_rules_and_too_many_tags(kendra: Any, new_index: Any) -> None:
    index = new_index()
    arn = ARN.format(index)
    for bad in ({"Key": "semi;colon", "Value": "x"}, {"Key": "k", "Value": "a|b"}, {"Key": "aws:owner", "Value": "x"}):
        with pytest.raises(kendra.exceptions.ValidationException):
            kendra.tag_resource(ResourceARN=arn, Tags=[bad])
    with pytest.raises(kendra.exceptions.ValidationException):
        kendra.tag_resource(ResourceARN=arn, Tags=[{"Key": "k" * 129, "Value": "x"}])
    with pytest.raises(kendra.exceptions.ValidationException):
        kendra.tag_resource(ResourceARN=arn, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(201)])
    # A bad tag at creation creates nothing.
    with pytest.raises(kendra.exceptions.ValidationException):
        kendra.create_data_source(IndexId=index, Name="bad", Type="CUSTOM", Tags=[{"Key": "a;b", "Value": ""}])
    assert kendra.list_data_sources(IndexId=index)["SummaryItems"] == []

    kendra.tag_resource(ResourceARN=arn, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(150)])
    with pytest.raises(kendra.exceptions.ValidationException, match="at most 200 tags"):
        kendra.tag_resource(ResourceARN=arn, Tags=[{"Key": f"more{i}", "Value": "v"} for i in range(51)])
    assert len(tags_of(kendra, arn)) == 150  # the refused call added nothing
    kendra.tag_resource(ResourceARN=arn, Tags=[{"Key": f"K{i}", "Value": "w"} for i in range(150)]
                        + [{"Key": f"more{i}", "Value": "v"} for i in range(50)])
    assert len(tags_of(kendra, arn)) == 200


def test_tags_go_with_their_resource(server: Server, kendra: Any, new_index: Any) -> None:
    index = new_index()
    arns = resources(kendra, index)
    assert len(stored(server, index)) == 4
    source_id, faq_id, set_id, list_id = (arn.rsplit("/", 1)[1] for arn in arns.values())
    kendra.delete_data_source(IndexId=index, Id=source_id)
    kendra.delete_faq(IndexId=index, Id=faq_id)
    kendra.batch_delete_featured_results_set(IndexId=index, FeaturedResultsSetIds=[set_id])
    kendra.delete_query_suggestions_block_list(IndexId=index, Id=list_id)
    for arn in arns.values():
        with pytest.raises(kendra.exceptions.ResourceUnavailableException):
            kendra.list_tags_for_resource(ResourceARN=arn)
    assert stored(server, index) == []

    other = kendra.create_index(Name="gone", RoleArn=ROLE, Tags=[{"Key": "a", "Value": "b"}])["Id"]
    wait_for(lambda: kendra.describe_index(Id=other)["Status"] == "ACTIVE", what="index active")
    inside = resources(kendra, other)
    assert len(stored(server, other)) == 5
    kendra.delete_index(Id=other)

    def gone() -> bool:
        try:
            kendra.list_tags_for_resource(ResourceARN=ARN.format(other))
        except kendra.exceptions.ResourceUnavailableException:
            return True
        return False

    wait_for(gone, what="index deleted")
    for arn in inside.values():
        with pytest.raises(kendra.exceptions.ResourceUnavailableException):
            kendra.list_tags_for_resource(ResourceARN=arn)
    assert stored(server, other) == []
