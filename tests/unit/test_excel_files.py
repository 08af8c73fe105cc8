"""An xlsx delivery or export keeps every value as written: a text is never a formula."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from openpyxl import load_workbook

from govlake.config.exchange import FileSettings
from govlake.errors import GovlakeError
from jobs.exchange import files

pytestmark = pytest.mark.unit


def _written(path: Path, table: pa.Table) -> int:
    reader = pa.RecordBatchReader.from_batches(table.schema, table.to_batches())
    return files.write(reader, path, FileSettings(format="xlsx"))


def test_a_text_starting_with_equals_stays_text(tmp_path: Path) -> None:
    texts = ['=HYPERLINK("http://example.invalid","点击")', "=1+1", "企业=名称"]
    assert _written(tmp_path / "x.xlsx", pa.table({"name": texts})) == 3
    sheet = load_workbook(tmp_path / "x.xlsx")["data"]
    cells = [row[0] for row in sheet.iter_rows(min_row=2)]
    assert [c.value for c in cells] == texts
    assert {c.data_type for c in cells} == {"s"}


def test_a_control_character_is_an_error_naming_the_row(tmp_path: Path) -> None:
    with pytest.raises(GovlakeError, match=r"x.xlsx: row 2 holds a control character"):
        _written(tmp_path / "x.xlsx", pa.table({"name": ["ok", "bad\x01"]}))
