"""Meta-tests of the house: every setting is documented in docs/settings.md (and nothing there is stale),
every relative link of the README and docs/ leads to a file, every operation the server dispatches
is exercised by a test, and every table of the schema has its SQL in one module."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

from kensaku.operations import NO_EXPERIENCES
from kernel.model import operation_names
from services.settings import Settings
from tests.conftest import Server
from tests.test_wire import TARGET, raw_post

REPO = Path(__file__).resolve().parents[1]


SETTINGS_PAGE = REPO / "docs" / "settings.md"
# Environment variables the docs may name that are not settings: the test suite's and the benchmarks'.
NOT_SETTINGS = {"KENSAKU_TEST_OPENSEARCH_URL", "KENSAKU_SHARED_DIR", "KENSAKU_CHROMIUM"}


def setting_variables() -> set[str]:
    """``KENSAKU_<NAME>`` of every field of services/settings.py."""
    return {f"KENSAKU_{name.upper()}" for name in Settings.model_fields}


def documented_settings(page: str) -> tuple[list[str], set[str]]:
    """The variables a settings page documents (named in the first cell of a table row, in order, so a
    repeated row shows), and every ``KENSAKU_`` name its rows mention anywhere."""
    rows = [line for line in page.splitlines() if line.startswith("| ") and not line.startswith("| variable ")]
    documented = [name for row in rows for name in re.findall(r"KENSAKU_[A-Z0-9_]*[A-Z0-9]", row.split("|")[1])]
    mentioned = {name for row in rows for name in re.findall(r"KENSAKU_[A-Z0-9_]*[A-Z0-9]", row)}
    return documented, mentioned


def test_every_setting_has_a_row_in_the_settings_page() -> None:
    documented, mentioned = documented_settings(SETTINGS_PAGE.read_text(encoding="utf-8"))
    settings = setting_variables()
    missing = sorted(settings - set(documented))
    assert not missing, f"settings without a row in docs/settings.md: {missing}"
    twice = sorted({name for name in documented if documented.count(name) > 1})
    assert not twice, f"settings with more than one row in docs/settings.md: {twice}"
    stale = sorted(mentioned - settings)
    assert not stale, f"docs/settings.md rows naming no setting (renamed or removed?): {stale}"


def test_the_docs_name_only_settings_that_exist() -> None:
    """A ``KENSAKU_`` variable named anywhere in the README or docs/ is a setting (or a prefix of some,
    written ``KENSAKU_OPENSEARCH_*``), so a renamed or removed setting leaves no stale advice behind."""
    settings = setting_variables()
    stale = {}
    for path in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        for name in set(re.findall(r"KENSAKU_[A-Z0-9_]+", path.read_text(encoding="utf-8"))):
            known = (any(s.startswith(name) for s in settings) if name.endswith("_")
                     else name in settings or name in NOT_SETTINGS)
            if not known:
                stale.setdefault(path.relative_to(REPO).as_posix(), []).append(name)
    assert not stale, f"variables that are no setting: {stale}"


def test_the_settings_check_catches_missing_and_stale_rows() -> None:
    settings = sorted(setting_variables())
    page = "| variable | default | meaning |\n|---|---|---|\n" + "".join(f"| `{name}` | x | y |\n" for name in settings)
    documented, mentioned = documented_settings(page)
    assert set(documented) == set(settings) and mentioned == set(settings)
    documented, _ = documented_settings(page.replace(f"| `{settings[0]}` |", "| `KENSAKU_NOT_A_SETTING` |"))
    assert settings[0] not in documented and "KENSAKU_NOT_A_SETTING" in documented


LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def broken_links(path: Path) -> list[str]:
    """The relative links (and images) of a Markdown file whose target file does not exist; links
    inside code spans and fenced code blocks are not links."""
    text = re.sub(r"^```.*?^```", "", path.read_text(encoding="utf-8"), flags=re.S | re.M)
    text = re.sub(r"`[^`\n]*`", "", text)
    broken = []
    for target in LINK.findall(text):
        if re.match(r"[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith("#"):
            continue  # https:, mailto:, an anchor of the same page
        file = target.split("#", 1)[0].split("?", 1)[0]
        if not (path.parent / file).exists():
            broken.append(target)
    return broken


def test_every_relative_link_of_the_docs_leads_to_a_file() -> None:
    pages = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    broken = {p.relative_to(REPO).as_posix(): links for p in pages if (links := broken_links(p))}
    assert not broken, f"links to files that do not exist: {broken}"


def test_the_link_check_finds_a_broken_link(tmp_path: Path) -> None:
    (tmp_path / "there.md").write_text("x", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text("[ok](there.md#a) [web](https://example.com/x) [gone](docs/gone.md#b) ![img](gone.png)\n"
                    "`[code](not-a-link.md)`\n```\n[fenced](not-a-link.md)\n```\n", encoding="utf-8")
    assert broken_links(page) == ["docs/gone.md#b", "gone.png"]


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


# -- who owns the tables -------------------------------------------------------------------------------

# The packages whose modules may hold SQL (the stores and the services around them).
SQL_PACKAGES = ("services", "analytics", "connectors")
_SQL = re.compile(r"\b(?:FROM|INTO|UPDATE|JOIN)\s+(\w+)")

def schema_tables() -> set[str]:
    """Every table the migrations create (services/database/migrations.py)."""
    from services.database.migrations import STEPS

    return {name for steps in STEPS.values() for step in steps
            for name in re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", step.ddl)}


def _literals(tree: ast.AST) -> Iterator[str]:
    """The string literals of a module; an f-string with ``{}`` for each of its replacement fields."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.value
        elif isinstance(node, ast.JoinedStr):
            yield "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)


def sql_modules(root: Path, tables: set[str]) -> dict[str, set[str]]:
    """table -> the modules (paths relative to ``root``) under SQL_PACKAGES whose string literals name it
    after FROM, INTO, UPDATE or JOIN (DELETE FROM, INSERT INTO, SELECT ... FROM, ... JOIN)."""
    found: dict[str, set[str]] = {}
    for package in SQL_PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for text in _literals(tree):
                for name in _SQL.findall(text):
                    if name in tables:
                        found.setdefault(name, set()).add(path.relative_to(root).as_posix())
    return found


def shared_tables(found: dict[str, set[str]], tables: set[str]) -> dict[str, list[str]]:
    """Tables whose SQL is in no module or in more than one: table -> modules."""
    return {table: sorted(found.get(table, set())) for table in sorted(tables) if len(found.get(table, set())) != 1}


def test_every_table_has_its_sql_in_one_module() -> None:
    """A table is read and written by one module (its store, behind named methods); the others call it."""
    tables = schema_tables()
    assert {"indexes", "documents", "pending", "faqs", "queries"} <= tables  # the schema was read
    shared = shared_tables(sql_modules(REPO, tables), tables)
    assert not shared, f"tables with SQL in no module or in several: {shared}"


def test_the_ownership_check_finds_a_second_module(tmp_path: Path) -> None:
    tables = {"faqs", "thesauri"}
    (tmp_path / "services" / "query").mkdir(parents=True)
    (tmp_path / "analytics").mkdir()
    (tmp_path / "connectors").mkdir()
    (tmp_path / "services" / "query" / "faqs.py").write_text(
        'SQL = "SELECT * FROM faqs WHERE id = ?"\nT = "INSERT INTO thesauri (id) VALUES (?)"\n')
    assert shared_tables(sql_modules(tmp_path, tables), tables) == {}
    (tmp_path / "analytics" / "offender.py").write_text(
        'def f(conn, t):\n    conn.execute(f"DELETE FROM faqs WHERE index_id = {t}")\n')
    found = sql_modules(tmp_path, tables)
    assert shared_tables(found, tables) == {"faqs": ["analytics/offender.py", "services/query/faqs.py"]}
    (tmp_path / "services" / "query" / "faqs.py").write_text('SQL = "SELECT * FROM faqs"\n')
    assert "thesauri" in shared_tables(sql_modules(tmp_path, tables), tables)  # no module: no owner
