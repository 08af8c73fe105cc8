"""Masking by classification: each mask on Chinese values, the token's key, schemas, conf rules."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from govlake.config.catalog import SensitiveRule
from govlake.config.issues import ConfError
from govlake.config.loader import load_config
from govlake.errors import GovlakeError
from jobs.masking import MaskKind, mask_batch, mask_key, mask_table, masks_for

pytestmark = pytest.mark.unit

KEY = b"k" * 32
OTHER_KEY = b"o" * 32


@pytest.fixture(autouse=True)
def _no_mask_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOVLAKE_MASK_KEY", raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_GOVLAKE_MASKING", raising=False)


def _masked(values: list[str | None], kind: MaskKind, key: bytes | None = KEY) -> list:
    batch = pa.record_batch({"c": pa.array(values, pa.string())})
    return mask_batch(batch, {"c": kind}, token_key=key).column(0).to_pylist()


def test_id_number_keeps_the_first_6_and_last_4() -> None:
    values = ["37010219900307123X", "370102900307123", "3701021990", "", None]
    assert _masked(values, "id_number") == [
        "370102********123X",
        "370102*****7123",  # a 15-digit number of the first generation
        "**********",  # nothing would be hidden: all hidden
        "",
        None,
    ]


def test_phone_keeps_the_last_4_digits_of_the_national_number() -> None:
    values = ["13812345678", "+86 138 1234 5678", "0086-138-1234-5678", "(0531) 8888-1234"]
    assert _masked([*values, "1234", "无", "", None], "phone") == [
        "*******5678",
        "*******5678",
        "*******5678",
        "********1234",  # a landline keeps its area code's length
        "****",
        "",
        "",
        None,
    ]


def test_name_keeps_the_first_character() -> None:
    values = ["张三", "欧阳娜娜", "买买提·艾力", "李", "", None]
    assert _masked(values, "name") == ["张*", "欧***", "买*****", "*", "", None]


@pytest.mark.parametrize(
    ("address", "kept"),
    [
        ("山东省济南市历下区泉城路1号", "山东省济南市历下区"),
        ("北京市朝阳区建国路88号", "北京市朝阳区"),
        ("上海市浦东新区世纪大道100号", "上海市浦东新区"),
        ("广西壮族自治区南宁市青秀区民族大道1号", "广西壮族自治区南宁市青秀区"),
        ("新疆维吾尔自治区阿克苏地区阿克苏市解放路", "新疆维吾尔自治区阿克苏地区阿克苏市"),
        ("内蒙古自治区鄂尔多斯市伊金霍洛旗", "内蒙古自治区鄂尔多斯市伊金霍洛旗"),
        ("甘肃省临夏回族自治州东乡族自治县", "甘肃省临夏回族自治州东乡族自治县"),
        ("香港特别行政区中西区", "香港特别行政区中西区"),
        ("山东省潍坊市寿光市圣城街道", "山东省潍坊市寿光市"),  # a county-level city
        ("山东省寿光市阳光小区3号楼", "山东省寿光市"),  # 小区 is not a district
        ("广东省东莞市松山湖园区", "广东省东莞市"),  # a city without districts
        ("河北省唐山市路南区", "河北省唐山市路南区"),
        ("山东省济南市市中区", "山东省济南市市中区"),
        ("河南省南阳市社旗县", "河南省南阳市社旗县"),
        ("北京市 朝阳区 建国路", "北京市 朝阳区"),
        ("济南市历下区省府前街1号", "济南市历下区"),
        ("山东省泉城路1号", "山东省"),  # no district: what it names
        ("泉城路1号", ""),  # no division at all
        ("250000 山东省济南市", ""),  # divisions are read from the start only
        ("", ""),
        (None, None),
    ],
)
def test_address_keeps_the_divisions_down_to_the_county(address: str | None, kept: str) -> None:
    assert _masked([address], "address") == [kept]


def test_token_is_the_keyed_hmac_of_each_value() -> None:
    first = "370102199003071234"
    values = [first, "370102199003075678", first, None]
    tokens = _masked(values, "token")
    assert tokens[0] == tokens[2] == hmac.new(KEY, first.encode(), hashlib.sha256).hexdigest()[:32]
    assert tokens[1] != tokens[0] and len(tokens[1]) == 32 and tokens[3] is None
    assert _masked(values, "token") == tokens  # stable: two shares join on it
    assert _masked(values, "token", OTHER_KEY)[0] != tokens[0]  # keyed


def test_a_token_mask_without_a_key_says_where_to_set_it() -> None:
    with pytest.raises(GovlakeError) as caught:
        _masked(["x"], "token", key=None)
    message = str(caught.value)
    assert "'c' is masked by token" in message and "GOVLAKE_MASK_KEY" in message
    assert "'govlake_masking'" in message and "\n" not in message
    assert _masked(["张三"], "name", key=None) == ["张*"]  # other masks need no key
    with pytest.raises(GovlakeError, match="shorter than 32 bytes"):
        _masked(["x"], "token", key=b"short")


def test_the_key_comes_from_its_variable_or_the_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert mask_key() is None
    monkeypatch.setenv("AIRFLOW_CONN_GOVLAKE_MASKING", "generic://:" + "c" * 32 + "@")
    assert mask_key() == b"c" * 32
    monkeypatch.setenv("GOVLAKE_MASK_KEY", "short")
    with pytest.raises(GovlakeError, match="^the masking key in GOVLAKE_MASK_KEY is shorter"):
        mask_key()
    monkeypatch.setenv("GOVLAKE_MASK_KEY", "v" * 32)
    assert mask_key() == b"v" * 32


def test_the_schema_is_kept_and_a_null_mask_makes_the_column_nullable() -> None:
    schema = pa.schema(
        [
            pa.field("name", pa.large_string(), nullable=False, metadata={"comment": "姓名"}),
            pa.field("age", pa.int32(), nullable=False, metadata={"comment": "年龄"}),
            pa.field("uscc", pa.string()),
        ],
        metadata={"dataset": "silver.people"},
    )
    batch = pa.record_batch([["张三"], [41], ["91370102MA3C4XY12K"]], schema=schema)
    masked = mask_batch(batch, {"name": "name", "age": "null"}, token_key=None)
    assert masked.schema == schema.set(1, schema.field("age").with_nullable(True))
    assert masked.schema.metadata == schema.metadata
    assert [f.metadata for f in masked.schema] == [f.metadata for f in schema]
    assert masked.to_pylist() == [{"name": "张*", "age": None, "uscc": "91370102MA3C4XY12K"}]


def test_a_text_mask_on_another_type_names_the_column_and_type() -> None:
    batch = pa.record_batch({"phone": pa.array([13812345678], pa.int64())})
    with pytest.raises(GovlakeError, match=r"^column 'phone' is int64: mask 'phone' applies to"):
        mask_batch(batch, {"phone": "phone"}, token_key=None)
    with pytest.raises(GovlakeError, match=r"columns the data does not have: \['mobile'\]"):
        mask_batch(batch, {"mobile": "phone"}, token_key=None)


def test_a_table_is_masked_chunk_by_chunk() -> None:
    names = pa.chunked_array([["张三", None], ["欧阳娜娜"]])
    ids = pa.chunked_array([["a", "b"], ["a"]])
    table = pa.table({"name": names, "id": ids})
    masked = mask_table(table, {"name": "name", "id": "token"}, token_key=KEY)
    assert masked.column("name").num_chunks == 2
    assert masked.column("name").to_pylist() == ["张*", None, "欧***"]
    tokens = masked.column("id").to_pylist()
    assert tokens[0] == tokens[2] != tokens[1]
    (batch,) = mask_table(table.combine_chunks(), {"id": "token"}, token_key=KEY).to_batches()
    assert batch.column("id").to_pylist() == tokens


def test_a_million_rows_are_masked_by_arrow_kernels() -> None:
    rows = 1_000_000
    serial = pc.utf8_lpad(pc.cast(pa.array(np.arange(rows)), pa.string()), 8, "0")
    batch = pa.record_batch(
        {
            "id_number": pc.binary_join_element_wise("1101051990", serial, ""),
            "phone": pc.binary_join_element_wise("+86 139", serial, ""),
            "name": pc.binary_join_element_wise("王", serial, ""),
            "address": pc.binary_join_element_wise("北京市海淀区中关村大街", serial, "号", ""),
            "note": serial,
        }
    )
    kinds: dict[str, MaskKind] = {
        "id_number": "id_number",
        "phone": "phone",
        "name": "name",
        "address": "address",
        "note": "null",
    }
    masked = mask_batch(batch, kinds, token_key=None)
    assert masked.slice(rows - 1).to_pylist() == [
        {
            "id_number": "110105********9999",
            "phone": "*******9999",
            "name": "王********",
            "address": "北京市海淀区",
            "note": None,
        }
    ]


def test_rules_say_which_columns_are_masked_how(full_conf_dir: Path) -> None:
    rules = load_config(full_conf_dir).catalog.sensitive_columns
    columns = ["uscc", "legal_representative", "contact_phone", "holder_id_number", "address"]
    assert masks_for(columns, rules) == {
        "legal_representative": "name",
        "contact_phone": "phone",
        "holder_id_number": "id_number",
        "address": "address",
    }
    assert masks_for(columns, rules, clear=["address", "contact_phone"]) == {
        "legal_representative": "name",
        "holder_id_number": "id_number",
    }
    first_wins = [
        SensitiveRule(pattern="mobile.*", label="联系电话", mask="phone"),
        SensitiveRule(pattern=".*", label="其他"),  # no mask: null
    ]
    assert masks_for(["mobile", "remark"], first_wins) == {"mobile": "phone", "remark": "null"}


def test_an_unknown_mask_is_named_with_file_line_and_field(full_conf_dir: Path) -> None:
    path = full_conf_dir / "catalog.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("mask: phone}", "mask: hash}", 1), encoding="utf-8")
    line = next(n for n, row in enumerate(text.splitlines(), 1) if "mask: phone}" in row)
    with pytest.raises(ConfError) as caught:
        load_config(full_conf_dir)
    (issue,) = caught.value.issues
    assert str(issue).startswith(f"{path}:{line}: sensitive_columns.1.mask: Input should be ")
    assert "'id_number', 'phone', 'name', 'address', 'token' or 'null'" in str(issue)
    assert "\n" not in str(issue)
