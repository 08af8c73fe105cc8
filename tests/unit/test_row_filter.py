"""Subscription filters are parsed into a small expression language; anything else is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from govlake import row_filter
from govlake.config.issues import ConfError
from govlake.config.loader import load_config

pytestmark = pytest.mark.unit
COLUMNS = ["id", "amount", "status", "name", "day"]


@pytest.mark.parametrize(
    ("text", "rendered"),
    [
        ("id % 2 = 0", "id % 2 = 0"),
        ("amount > 100 AND status = 'active'", "amount > 100 AND status = 'active'"),
        ("status IN ('a', 'b') OR name IS NULL", "status IN ('a', 'b') OR name IS NULL"),
        ("day >= DATE '2024-01-01'", "day >= CAST('2024-01-01' AS DATE)"),
        ("lower(name) LIKE '%公司%'", "LOWER(name) LIKE '%公司%'"),
        ("amount BETWEEN 1 AND 2", "amount BETWEEN 1 AND 2"),
    ],
)
def test_conditions_over_columns_are_rendered_from_the_tree(text: str, rendered: str) -> None:
    assert row_filter.render(text, COLUMNS, where="s") == rendered


@pytest.mark.parametrize(
    ("text", "refusal"),
    [
        ("id > 1; COPY (SELECT 1) TO '/tmp/x.csv'", "Block"),
        ("id IN (SELECT id FROM gold.other)", "Subquery"),
        ("read_text('/etc/shadow') <> ''", "READ_TEXT"),
        ("getenv('AIRFLOW_CONN_X') IS NOT NULL", "GETENV"),
        ("id > 1 UNION SELECT 1", "Union"),
        ("t.id = 1", "columns are named alone"),
        ("id", "a filter is a condition"),
        ("id = (", "not a condition"),
    ],
)
def test_anything_else_is_refused(text: str, refusal: str) -> None:
    with pytest.raises(
        ValueError, match="not allowed|columns are named|a filter is|not a cond"
    ) as e:
        row_filter.parse(text)
    assert refusal in str(e.value)


def test_a_filter_names_only_the_dataset_columns() -> None:
    with pytest.raises(ValueError, match=r"subscription s: filter names secret, not columns"):
        row_filter.render("secret = 1 AND id > 0", COLUMNS, where="subscription s")


def test_conf_check_refuses_a_pasted_statement_naming_file_line_and_field(
    full_conf_dir: Path,
) -> None:
    path = full_conf_dir / "exchange" / "subscriptions.yaml"
    text = path.read_text(encoding="utf-8")
    hostile = "    filter: \"risk_level = 'high'; COPY (SELECT 1) TO '/tmp/pwned.csv'\"\n"
    path.write_text(text.replace("    mode: full\n", "    mode: full\n" + hostile, 1), "utf-8")
    with pytest.raises(ConfError) as caught:
        load_config(full_conf_dir)
    (issue,) = caught.value.issues
    line = path.read_text(encoding="utf-8").splitlines().index(hostile.rstrip("\n")) + 1
    assert (issue.file, issue.line, issue.field) == (path, line, "subscriptions.0.filter")
    assert "not allowed in a filter" in issue.message
    assert not Path("/tmp/pwned.csv").exists()


def test_a_filter_over_several_tables_splits_into_parts_naming_their_columns() -> None:
    granted = {"GL-1": ["status", "region"], "GL-2": ["amount"]}
    text = """"GL-1".status = 'a' AND ("GL-2".amount > 1 OR "GL-1".region IS NULL)"""
    one, both = row_filter.qualified_parts(text, granted, where="filter")
    assert one.columns == {("GL-1", "status")} and one.sql(lambda _, c: c) == "\"status\" = 'a'"
    assert both.columns == {("GL-2", "amount"), ("GL-1", "region")}
    assert both.sql(lambda t, c: f"{t}.{c}") == '"GL-2.amount" > 1 OR "GL-1.region" IS NULL'


@pytest.mark.parametrize(
    ("text", "refusal"),
    [
        ("status = 'a'", 'columns are named by their table, "table".column, not status'),
        ('"GL-3".status = 1', "filter: GL-3 is none of GL-1"),
        ('"GL-1".secret = 1', r"filter names GL-1.secret, not a column of GL-1 it may read"),
        ('"GL-1".status IN (SELECT 1)', "Subquery"),
        ('"GL-1".status = 1; DROP TABLE x', "Block|not a condition"),
    ],
)
def test_a_filter_over_several_tables_names_granted_columns_by_table(
    text: str, refusal: str
) -> None:
    with pytest.raises(ValueError, match=refusal):
        row_filter.qualified_parts(text, {"GL-1": ["status"]}, where="filter")
