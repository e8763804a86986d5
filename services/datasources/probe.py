"""KensakuTestDataSourceConnection: can the server reach a data source, and what would a sync find?

A Kensaku extension operation on the Kendra protocol (docs/api.md, "Admin extensions"), for the admin
page's "test connection" button. It takes an existing data source (``IndexId`` + ``Id``) or a draft
(``IndexId`` + ``Type`` + ``Configuration``, as CreateDataSource takes them, validated by the same
rules and the same outbound policy), builds the connector and starts its listing, the very first
step of a sync, for at most ``TIME_LIMIT_SECONDS`` and ``ITEM_LIMIT`` items. Nothing is fetched,
extracted or sent to an index, and no checkpoint or version is recorded.

Response: ``Status`` SUCCEEDED (the source answered; the listing finished or reached the item
limit), FAILED (the connector raised a source error: ``DataSourceErrorCode`` and ``Message`` say
which) or TIMED_OUT (no answer within the time limit: a sync would go on waiting); ``DocumentsFound``
(items the listing yielded, at most the limit), ``ListingComplete``, up to 5 ``SampleDocumentIds``
and up to 5 ``FailedDocuments`` (``{"Id", "Reason"}``: items a sync would report as failed).
"""

from __future__ import annotations

import queue
import threading
import time
from typing import Any

from connectors import registry
from connectors.contract import Failure, SourceError, Upsert
from kernel import model
from kernel.errors import ValidationException
from services.datasources.service import DataSourceService, check_config

TIME_LIMIT_SECONDS = 10.0
ITEM_LIMIT = 1000
SAMPLES = 5
_MEMBERS = {"IndexId", "Id", "Type", "Configuration"}
_ROLE = "arn:aws:iam::000000000000:role/kensaku-connection-test"  # Kensaku ignores roles; Kendra's rules want one


def _string(p: dict[str, Any], name: str, required: bool = False) -> str | None:
    value = p.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= 100:
        raise ValidationException(f"{name} must be a string of 1 to 100 characters")
    return value


class ConnectionTester:
    """The handler of KensakuTestDataSourceConnection."""

    def __init__(self, sources: DataSourceService, options: registry.ConnectorOptions) -> None:
        self.sources = sources
        self.options = options

    def operations(self) -> dict[str, Any]:
        return {"KensakuTestDataSourceConnection": self.test_connection}

    def _spec(self, p: dict[str, Any]) -> registry.ConnectorSpec:
        if not isinstance(p, dict):
            raise ValidationException("The request body must be a JSON object")
        unknown = sorted(set(p) - _MEMBERS)
        if unknown:
            raise ValidationException(f"Unknown member(s): {', '.join(unknown)}")
        index_id = _string(p, "IndexId", required=True)
        assert index_id is not None
        ds_id = _string(p, "Id")
        if ds_id is not None:
            if "Type" in p or "Configuration" in p:
                raise ValidationException("Give either Id (a data source) or Type and Configuration (a draft)")
            described = self.sources.describe_data_source({"Id": ds_id, "IndexId": index_id})
            kind, configuration = described["Type"], described.get("Configuration", {})
        else:
            self.sources.indexes.require_active(index_id)
            kind = model.check_as("DataSourceType", p.get("Type"), "Type")
            configuration = model.check_as("DataSourceConfiguration", p.get("Configuration"), "Configuration")
            check_config(kind, {"Configuration": configuration, "RoleArn": _ROLE}, self.sources.outbound)
        if kind == "CUSTOM":
            raise ValidationException("A CUSTOM data source is fed by its own code; there is no connection to test")
        spec = registry.spec_of(kind, configuration)
        if spec is None:
            raise ValidationException(registry.unsupported_message(kind, configuration))
        return spec

    def test_connection(self, p: dict[str, Any]) -> dict[str, Any]:
        """List the source for a few seconds (see the module docstring).

        Raises:
            ValidationException: a malformed request or configuration, or one the outbound policy refuses.
            ResourceNotFoundException: no such index or data source.
        """
        spec = self._spec(p)
        connector = registry.build(spec, self.options)
        found: queue.Queue[tuple[str, Any]] = queue.Queue()
        stop = threading.Event()

        def listing() -> None:  # on a thread of its own: a source that hangs cannot hold the request
            try:
                for change in connector.changes(None, {}):
                    if stop.is_set():
                        return
                    found.put(("change", change))
                found.put(("done", None))
            except SourceError as error:
                found.put(("error", error))
            except Exception as error:  # a connector's bug or an unforeseen OS error: reported, not raised
                found.put(("error", SourceError(f"{type(error).__name__}: {error}")))

        threading.Thread(target=listing, name="connection-test", daemon=True).start()
        samples: list[str] = []
        failures: list[dict[str, str]] = []
        count = 0
        outcome: dict[str, Any] = {"Status": "TIMED_OUT", "ListingComplete": False,
                                   "Message": f"The source gave no complete answer within {TIME_LIMIT_SECONDS:.0f} s"}
        end = time.monotonic() + TIME_LIMIT_SECONDS
        try:
            while (left := end - time.monotonic()) > 0:
                try:
                    kind, value = found.get(timeout=left)
                except queue.Empty:
                    break
                if kind == "change":
                    if isinstance(value, Upsert):
                        count += 1
                        if len(samples) < SAMPLES:
                            samples.append(value.doc_id)
                    elif isinstance(value, Failure):
                        count += 1
                        if len(failures) < SAMPLES:
                            failures.append({"Id": value.doc_id, "Reason": value.reason})
                    if count >= ITEM_LIMIT:
                        outcome = {"Status": "SUCCEEDED", "ListingComplete": False,
                                   "Message": f"The source answered; the test stopped after {ITEM_LIMIT} items"}
                        break
                elif kind == "done":
                    outcome = {"Status": "SUCCEEDED", "ListingComplete": True,
                               "Message": f"The source answered: a sync would find {count} items"}
                    break
                else:
                    error: SourceError = value
                    outcome = {"Status": "FAILED", "ListingComplete": False, "Message": str(error) or error.code,
                               "DataSourceErrorCode": error.code}
                    break
            if outcome["Status"] == "TIMED_OUT" and count:
                outcome = {"Status": "SUCCEEDED", "ListingComplete": False,
                           "Message": f"The source answered; {count} items listed in {TIME_LIMIT_SECONDS:.0f} s"}
        finally:
            stop.set()
        return {**outcome, "DocumentsFound": count, "SampleDocumentIds": samples, "FailedDocuments": failures}
