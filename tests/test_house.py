"""Meta-tests of the house: every setting is documented in the README's tables, and every operation the
server dispatches is exercised by a test."""

from __future__ import annotations

import re
from pathlib import Path

from services.api.model import operation_names
from services.api.operations import NO_EXPERIENCES
from services.settings import Settings
from tests.conftest import Server
from tests.test_wire import TARGET, raw_post

REPO = Path(__file__).resolve().parents[1]


def test_every_setting_has_a_row_in_the_readme() -> None:
    rows = "".join(line for line in (REPO / "README.md").read_text(encoding="utf-8").splitlines(True)
                   if line.startswith("|"))
    documented = set(re.findall(r"KENSAKU_[A-Z0-9_]+", rows))
    missing = [f"KENSAKU_{name.upper()}" for name in Settings.model_fields
               if f"KENSAKU_{name.upper()}" not in documented]
    assert not missing, f"settings without a README table row: {missing}"
    unknown = sorted(documented - {f"KENSAKU_{name.upper()}" for name in Settings.model_fields})
    assert not unknown, f"README rows naming no setting: {unknown}"


def test_every_built_operation_is_called_by_a_test(server: Server) -> None:
    """Each operation of botocore's model that the running server builds (an empty body is not refused
    as a feature not built yet, nor as an Experience) is called somewhere in the tests:
    ``client.snake_case(`` or its name."""
    sources = "".join(p.read_text(encoding="utf-8") for p in (REPO / "tests").glob("test_*.py"))
    untested = []
    for name in operation_names():
        answer = raw_post(server.url, TARGET + name, "{}").text
        if "not supported by this Kensaku server yet" in answer or NO_EXPERIENCES in answer:
            continue
        snake = re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
        if f".{snake}(" not in sources and f'"{name}"' not in sources:
            untested.append(name)
    assert not untested, f"operations no test calls: {untested}"
