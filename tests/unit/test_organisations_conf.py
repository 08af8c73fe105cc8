"""The organisation tree in departments.yaml: optional, checked, reported with file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from govlake.config.issues import ConfError
from govlake.config.loader import load_config

pytestmark = pytest.mark.unit

FLAT = """\
departments:
  - {code: market_regulation, name: 市场监督管理局, stewards: [zhang.wei]}
  - {code: platform, name: 大数据管理中心, stewards: [li.na]}
  - {code: human_resources, name: 人力资源和社会保障局}
  - {code: tax, name: 税务局}
  - {code: credit_center, name: 公共信用信息中心}
"""


def _errors(conf_dir: Path) -> list[str]:
    with pytest.raises(ConfError) as caught:
        load_config(conf_dir)
    return [str(issue) for issue in caught.value.issues]


def _write(conf_dir: Path, text: str) -> Path:
    path = conf_dir / "departments.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_tree(project) -> None:  # noqa: ANN001
    assert {o.code: (o.level, o.parent) for o in project.organisations.values()} == {
        "shandong": ("province", None),
        "jinan": ("city", "shandong"),
    }
    assert {d.parent for d in project.departments.values()} == {"jinan"}


def test_departments_without_organisations_stay_valid(conf_dir: Path) -> None:
    _write(conf_dir, FLAT)
    config = load_config(conf_dir)
    assert config.organisations == {}
    assert config.departments["tax"].parent is None


def test_parents_must_be_declared_and_one_level_up(conf_dir: Path) -> None:
    path = _write(
        conf_dir,
        "organisations:\n"
        "  - {code: shandong, name: 山东省, level: province, parent: jinan}\n"
        "  - {code: jinan, name: 济南市, level: city, parent: qingdao}\n"
        "  - {code: qingdao, name: 青岛市, level: city}\n"
        "  - {code: tax, name: 税务局, level: city}\n"
        + FLAT.replace(
            "{code: tax, name: 税务局}", "{code: tax, name: 税务局, parent: nowhere}"
        ).replace("stewards: [li.na]}", "stewards: [li.na], parent: market_regulation}"),
    )
    errors = _errors(conf_dir)
    assert f"{path}:2: organisations.0.parent: a province is the root: it has no parent" in errors
    assert (
        f"{path}:3: organisations.1.parent: a city belongs to a province; 'qingdao' is a city"
        in errors
    )
    assert f"{path}:5: organisations.3.code: 'tax' is also a department" in errors
    assert f"{path}:8: departments.1.parent: unknown organisation 'market_regulation'" in errors
    assert f"{path}:10: departments.3.parent: unknown organisation 'nowhere'" in errors
    assert len(errors) == 5, errors


def test_a_bad_organisation_is_named_once(conf_dir: Path) -> None:
    path = _write(
        conf_dir,
        "organisations:\n  - {code: jinan, name: 济南市, level: town}\n"
        + FLAT.replace("{code: tax, name: 税务局}", "{code: tax, name: 税务局, parent: jinan}"),
    )
    (error,) = _errors(conf_dir)
    assert error.startswith(f"{path}:2: organisations.0.level: Input should be 'province' or")


def test_unexpected_top_level_field(conf_dir: Path) -> None:
    path = _write(conf_dir, "cities: []\n" + FLAT)
    assert _errors(conf_dir) == [f"{path}:1: cities: unexpected field"]
