"""FAQs and query-suggestion block lists made, read again and deleted on the admin page, in a real browser,
from files at file:// keys (the site's KENSAKU_LOCAL_FILES_ROOT); what they do is checked through boto3.

Each test makes its own index and deletes it, so the site's index and the other pages' tests see nothing."""

from __future__ import annotations

from typing import Any

from tests.conftest import ROLE, put_and_wait, text_doc, wait_active, wait_for
from tests.web_site import Site, sign_in

FAQ = ("How do I reset my wombat password?,Open the wombat portal and choose Reset.\n"
       "Where is the zebrafish tank?,On the third floor by the window.\n")


def new_index(site: Site, name: str) -> str:
    index_id: str = site.client.create_index(Name=name, RoleArn=ROLE)["Id"]
    wait_active(site.client, index_id)
    return index_id


def answers(site: Site, index_id: str, text: str) -> list[str]:
    """The QUESTION_ANSWER results' answers to a query."""
    r = site.client.query(IndexId=index_id, QueryText=text)
    return [i["DocumentExcerpt"]["Text"] for i in r["ResultItems"] if i["Type"] == "QUESTION_ANSWER"]


def delete_row(page: Any, row: Any) -> None:
    row.locator("button.delete").click()
    row.locator("button.delete.armed").click()  # a second click confirms


def test_a_faq_made_on_the_admin_page_answers_queries_until_it_is_deleted(page: Any, site: Site) -> None:
    index_id = new_index(site, "admin-faqs")
    faq = site.files / "faq.csv"
    faq.write_text(FAQ, encoding="utf-8")
    try:
        sign_in(page, site, f"/admin?ui=en&index={index_id}")
        assert page.inner_text("#faqs .body") == "None"
        page.click("#faq-form-title")
        form = page.locator("#faq-form")
        error = form.locator(".form-error")

        def refused(expected: str, invalid: str) -> None:  # the page's own checks: no call is made
            form.locator("button.save").click()
            assert error.inner_text() == expected
            assert form.locator(f"[name={invalid}]").get_attribute("aria-invalid") == "true"

        refused("Name is required.", "name")
        form.locator("[name=name]").fill("team faq")
        refused("Name may hold only letters, digits, _ and -, starting with a letter or digit (e.g. company-docs).",
                "name")
        form.locator("[name=name]").fill("team-faq")
        refused("S3 key, or file:///path is required.", "key")
        form.locator("[name=key]").fill("s3-faqs/faq.csv")
        refused("S3 bucket is required.", "bucket")
        # CreateFaq refuses a file:// key naming no absolute path: its ValidationException shows by the form
        form.locator("[name=bucket]").fill("")
        form.locator("[name=key]").fill("file://faq.csv")
        form.locator("button.save").click()
        page.wait_for_function("document.querySelector('#faq-form .form-error').textContent.includes('another host')")
        assert "S3Path.Key: file://faq.csv names another host" in error.inner_text()
        assert site.client.list_faqs(IndexId=index_id)["FaqSummaryItems"] == []

        # a file read in the wrong format: FAILED, with the server's reason in the list
        form.locator("[name=name]").fill("wrong-format")
        form.locator("[name=key]").fill(faq.as_uri())
        form.locator("[name=format]").select_option("JSON")
        form.locator("button.save").click()
        failed = page.locator("#faqs tr[data-status=FAILED]")
        failed.wait_for()
        assert "SchemaVersion" in failed.locator(".error").inner_text()

        form.locator("[name=name]").fill("team-faq")
        form.locator("[name=description]").fill("Questions the team asks")
        form.locator("[name=key]").fill(faq.as_uri())
        assert form.locator("[name=format]").input_value() == "CSV"  # the form was emptied after CreateFaq
        assert form.locator("[name=language]").input_value() == "en"  # the page's language
        form.locator("button.save").click()
        row = page.locator("#faqs tr[data-status=ACTIVE]")  # CREATING, polled until its file is read
        row.wait_for(timeout=60_000)
        cells = row.locator("td").all_inner_texts()
        assert cells[0].split("\n") == ["team-faq", "Questions the team asks", faq.as_uri()]
        assert cells[1:3] == ["ACTIVE", "CSV · en"]
        faq_id = row.get_attribute("data-faq-id")
        described = site.client.describe_faq(IndexId=index_id, Id=faq_id)
        assert (described["Name"], described["Description"], described["FileFormat"], described["LanguageCode"]) == (
            "team-faq", "Questions the team asks", "CSV", "en")
        assert described["S3Path"] == {"Bucket": "local", "Key": faq.as_uri()}
        assert answers(site, index_id, "reset wombat password") == ["Open the wombat portal and choose Reset."]
        # the index table counts the questions of its ACTIVE FAQs once the FAQ is read
        page.locator(f"#indexes tr[data-index-id='{index_id}'] td:nth-child(6)", has_text="2").wait_for()

        delete_row(page, failed)
        page.wait_for_function("document.querySelectorAll('#faqs tbody tr').length === 1")
        delete_row(page, page.locator(f"#faqs tr[data-faq-id='{faq_id}']"))
        page.wait_for_function("document.querySelector('#faqs .body').textContent === 'None'")
        page.locator(f"#indexes tr[data-index-id='{index_id}'] td:nth-child(6)", has_text="0").wait_for()
        assert "team-faq" in page.inner_text("#status")
        assert site.client.list_faqs(IndexId=index_id)["FaqSummaryItems"] == []
        assert answers(site, index_id, "reset wombat password") == []
    finally:
        site.client.delete_index(Id=index_id)


def suggestions(site: Site, index_id: str, prefix: str) -> list[str]:
    r = site.client.get_query_suggestions(IndexId=index_id, QueryText=prefix)
    return sorted(s["Value"]["Text"]["Text"] for s in r["Suggestions"])


def test_a_block_list_made_on_the_admin_page_hides_suggestions_until_it_is_deleted(page: Any, site: Site) -> None:
    index_id = new_index(site, "admin-block-lists")
    try:
        put_and_wait(site.client, index_id, [text_doc("s1", "salary review process and salary bands", lang="en")])
        site.client.update_query_suggestions_config(IndexId=index_id, MinimumQueryCount=1,
                                                    MinimumNumberOfQueryingUsers=1)
        for text in ("salary review", "salary bands"):
            site.client.query(IndexId=index_id, QueryText=text)
        both = ["salary bands", "salary review"]
        wait_for(lambda: suggestions(site, index_id, "sala") == both, 15, "both queries suggested")
        words = site.files / "blocked-words.txt"
        words.write_text("Bands\n\n禁止語\n", encoding="utf-8")

        sign_in(page, site, f"/admin?ui=en&index={index_id}")
        assert page.inner_text("#block-lists .body") == "None"
        page.click("#block-list-form-title")
        form = page.locator("#block-list-form")
        form.locator("[name=name]").fill("hr_words")  # Kendra's block list names take no _
        form.locator("button.save").click()
        assert "may hold only letters, digits and -" in form.locator(".form-error").inner_text()
        form.locator("[name=name]").fill("hr-words")
        form.locator("[name=description]").fill("Words HR keeps out")
        form.locator("[name=key]").fill(words.as_uri())
        form.locator("button.save").click()
        row = page.locator("#block-lists tbody tr")
        row.locator("td:nth-child(3)", has_text="2").wait_for()
        assert row.get_attribute("data-status") == "ACTIVE"
        cells = row.locator("td").all_inner_texts()
        assert cells[0].split("\n") == ["hr-words", "Words HR keeps out", words.as_uri()]
        assert cells[1:3] == ["ACTIVE", "2"]
        assert suggestions(site, index_id, "sala") == ["salary review"]

        # the file changed: "Read the file again" (UpdateQuerySuggestionsBlockList) takes in its new words
        words.write_text("review\n", encoding="utf-8")
        row.locator("button.reread").click()
        page.wait_for_function("document.querySelector('#status').textContent.includes('read again (1 items)')")
        row.locator("td:nth-child(3)", has_text="1").wait_for()
        assert suggestions(site, index_id, "sala") == ["salary bands"]
        # a file gone: its words stay in effect, and the list says why it was not read
        words.unlink()
        row.locator("button.reread").click()
        page.locator("#block-lists tr[data-status=ACTIVE_BUT_UPDATE_FAILED] .error").wait_for()
        assert "could not be read again" in page.inner_text("#status")
        assert suggestions(site, index_id, "sala") == ["salary bands"]

        delete_row(page, row)
        page.wait_for_function("document.querySelector('#block-lists .body').textContent === 'None'")
        assert site.client.list_query_suggestions_block_lists(IndexId=index_id)["BlockListSummaryItems"] == []
        assert suggestions(site, index_id, "sala") == both
    finally:
        site.client.delete_index(Id=index_id)
