"""The README's main job, as a user runs it: `govlake demo` through Airflow, twice, then SQL."""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from bench.delta_sharing import client_python
from tests.conftest import REPO

pytestmark = pytest.mark.e2e
GOVLAKE = str(Path(sys.executable).with_name("govlake"))
BIN = Path(sys.executable).parent
DEMO_SECONDS = 600  # one demo on a loaded 2-core machine; about 60 s alone


def _govlake(
    home: Path,
    *args: str,
    extra_env: dict[str, str] | None = None,
    check: bool = True,
    stdin: str | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """``govlake ARGS`` as a user runs it, with the demo's keys once the demo has made them."""
    done = subprocess.run(
        [GOVLAKE, *args],
        cwd=REPO,
        env={**_env(home), **(extra_env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        input=stdin,
    )
    if check:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


def _env(home: Path) -> dict[str, str]:
    """A user's environment for ``home``: the demo's keys once it has made them, no others."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "GOVLAKE"))}
    keys = home / "demo.env"
    if keys.exists():
        env.update(line.partition("=")[::2] for line in keys.read_text().splitlines() if line)
    env.update({"GOVLAKE_HOME": str(home), "XDG_CONFIG_HOME": str(home / "config")})
    return env


def _passwords(stdout: str) -> dict[str, str]:
    """The demo's users and the passwords it printed for them."""
    rows = re.findall(r"^ *([a-z][a-z0-9._]+) +\w+ +\w+ +(Gl-\S+) *$", stdout, re.MULTILINE)
    return dict(rows)


def _login(home: Path, passwords: dict[str, str], username: str) -> None:
    _govlake(home, "login", username, "--password-stdin", stdin=passwords[username] + "\n")


# Each department's analyst counts its own tables: no one reads every department's data.
COUNTS = {
    "market_regulation.analyst": (
        "SELECT 'bronze' z, count(*) n FROM bronze.enterprise_registry UNION ALL "
        "SELECT 'silver', count(*) FROM silver.enterprise_registry UNION ALL "
        "SELECT 'quarantine', count(*) FROM silver.enterprise_registry__quarantine UNION ALL "
        "SELECT 'gold', count(*) FROM gold.enterprise_directory UNION ALL "
        "SELECT 'notices', count(*) FROM bronze.penalty_notices UNION ALL "
        "SELECT 'notices_clean', count(*) FROM silver.penalty_notices"
    ),
    "human_resources.analyst": (
        "SELECT 'payments' z, count(*) n FROM bronze.social_insurance_payments UNION ALL "
        "SELECT 'bad_lines', count(*) FROM bronze.social_insurance_payments__quarantine UNION ALL "
        "SELECT 'payments_clean', count(*) FROM silver.social_insurance_payments"
    ),
    "platform.analyst": "SELECT 'profile' z, count(*) n FROM gold.enterprise_credit_profile",
}


def _counts(home: Path, passwords: dict[str, str]) -> dict[str, int]:
    counts = {}
    for analyst, query in COUNTS.items():
        _login(home, passwords, analyst)
        rows = json.loads(_govlake(home, "sql", query, "--format", "json").stdout)
        counts.update({row["z"]: row["n"] for row in rows})
    return counts


@pytest.mark.timeout(1800)  # two demos through Airflow, then the README's commands
def test_demo_twice_gives_the_same_tables(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = _govlake(home, "demo", "--rows", "500", timeout=DEMO_SECONDS)
    passwords = _passwords(first.stdout)
    assert {"admin", "auditor", "zhang.wei", "market_regulation.analyst", "tax.analyst"} <= set(
        passwords
    )
    assert re.search(r"audit: +OK, \d+ events verified and checkpointed", first.stdout)
    counts = _counts(home, passwords)
    for dag_id in ("market_registry_ingest", "enterprise_registry_refine", "exchange__"):
        assert re.search(rf"{dag_id}\S* +success", first.stdout), dag_id
    applied = re.findall(r"sharing: AP-\d{6} (\w+) applies for GL-\d{6} by (\w+)", first.stdout)
    granted = re.findall(r"sharing: AP-\d{6} grant \d+ in force for (\w+)", first.stdout)
    assert {(*a, g) for a, g in zip(applied, granted, strict=True)} == {
        ("tax", "subscription", "credit_profile_to_tax"),
        ("credit_center", "table", "credit_profile_to_credit_platform"),
        ("human_resources", "subscription", "penalty_notices_to_hr"),
        ("credit_center", "share_interface", "share_interface"),
        ("human_resources", "service_api", "service_api"),
    }
    assert not re.search(r"^ *\w+ +failed ", first.stdout, re.MULTILINE)
    assert counts["bronze"] == 500
    assert counts["silver"] + counts["quarantine"] < 500
    assert counts["gold"] == counts["silver"] == counts["profile"] > 400
    assert counts["bad_lines"] == 3  # the malformed lines of one day's GBK file
    assert 0 < counts["payments_clean"] < counts["payments"]
    assert counts["notices"] == counts["notices_clean"] == 20  # every page of the site, once
    assert "human_resources: FTP drop folder ftp://govlake@127.0.0.1:" in first.stdout
    assert "market_regulation: penalty notices website http://127.0.0.1:" in first.stdout
    assert (home / "airflow" / "airflow.db").is_file()
    # Seeded data is current, so freshness holds: the registry loses points only to quarantine.
    assert re.search(r"silver\.enterprise_registry +\d+ +0 +100\.0 +new", first.stdout)
    assert re.search(r"penalty_notices_to_hr +\w+ +delivered +20 +new", first.stdout)
    assert (home / "quality" / "data_docs" / "index.html").is_file()
    _check_deliveries(home, counts)
    _check_catalog(home, counts)
    _check_refusals_and_audit(home, passwords)
    _check_shares(home, passwords, first.stdout, counts)

    second = _govlake(home, "demo", "--rows", "500", timeout=DEMO_SECONDS)
    assert "registry database reusing" in second.stdout and "Demo users" not in second.stdout
    assert len(re.findall(r"sharing: \w+: in force \(grant \d+\)", second.stdout)) == 3
    assert len(re.findall(r"sharing: \w+ \w+: in force \(grant \d+\)", second.stdout)) == 2
    assert re.search(r"audit: +OK, \d+ events", second.stdout)
    assert re.search(r"silver\.enterprise_registry +\d+ +0 +100\.0 +earlier", second.stdout)
    assert re.search(r"penalty_notices_to_hr +\w+ +delivered +20 +earlier", second.stdout)
    assert _counts(home, passwords) == counts
    exported = json.loads(_govlake(home, "catalog", "export").stdout)
    assert {r["entry"]["version"] for r in exported["resources"]} == {1}  # nothing changed
    tables = _govlake(home, "tables").stdout
    assert "gold.enterprise_credit_profile " in tables
    _check_readme(home, passwords)


README_BLOCK = re.compile(r"<!-- run by tests/e2e/test_demo.py[^>]*-->\n```bash\n(.*?)```", re.S)


def _check_readme(home: Path, passwords: dict[str, str]) -> None:
    """The README's quick-start blocks run as written after the demo, each command succeeding.

    Only what a reader cannot type here changes: the demo's home for ``.govlake/``, and a
    ``login`` reads the password the demo printed from stdin instead of a hidden prompt.
    """
    blocks = README_BLOCK.findall((REPO / "README.md").read_text(encoding="utf-8"))
    assert len(blocks) == 3
    script = ["set -euo pipefail"]
    for line in (line for block in blocks for line in block.splitlines() if line.strip()):
        command = line.split("  #")[0].strip()
        command = command.replace(".govlake/", f"{home}/").replace(".venv/bin/", f"{BIN}/")
        script.append(re.sub(
            r"govlake login ([\w.]+)",
            lambda m: f"govlake login {m[1]} --password-stdin <<< {shlex.quote(passwords[m[1]])}",
            command,
        ))  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "GOVLAKE"))}
    env.update({"GOVLAKE_HOME": str(home), "XDG_CONFIG_HOME": str(home / "config"),
                "GOVLAKE_CONF": str(REPO / "conf")})  # fmt: skip
    done = subprocess.run(["bash", "-c", "\n".join(script)], cwd=home.parent, env=env,
                          capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"ok: \d+ events verified", done.stdout)  # the auditor's verify
    assert "已发布" in done.stdout  # the catalog list, in the code list's names
    assert json.loads((home.parent / "catalogue.json").read_text(encoding="utf-8"))["resources"]


def _check_refusals_and_audit(home: Path, passwords: dict[str, str]) -> None:
    """Another department's data is refused; the auditor finds the ledger intact."""
    _login(home, passwords, "tax.analyst")
    done = _govlake(home, "sql", "SELECT count(*) FROM silver.enterprise_registry", check=False)
    assert done.returncode == 1
    assert "tax.analyst may not read_data dataset:silver.enterprise_registry" in done.stderr
    done = _govlake(home, "sql", "SELECT count(*) FROM silver.nope", check=False)
    assert done.returncode == 1 and done.stderr.startswith("error: unknown table in query:")
    _login(home, passwords, "auditor")
    verified = _govlake(home, "audit", "verify").stdout
    assert re.match(r"ok: \d+ events verified up to row \d+; agrees with the checkpoint", verified)
    refused = _govlake(home, "audit", "log", "--user", "tax.analyst", "--outcome", "refused")
    assert "access.denied" in refused.stdout


def _check_catalog(home: Path, counts: dict[str, int]) -> None:
    """The last task of every pipeline DAG registered the tables it built."""
    exported = json.loads(_govlake(home, "catalog", "export").stdout)
    resources = {r["dataset"]: r for r in exported["resources"]}
    assert len(resources) == 8  # every dataset of the scenario, reviewed and published
    assert {r["entry"]["status"] for r in resources.values()} == {"published"}
    profile = resources["gold.enterprise_credit_profile"]
    assert profile["statistics"]["rows"] == counts["profile"]
    assert profile["statistics"]["quality_score"] == 100.0
    assert profile["format"]["delivery_formats"] == ["csv", "table"]
    shown = json.loads(
        _govlake(home, "catalog", "show", "gold.enterprise_credit_profile", "--json").stdout
    )
    assert shown["state"]["lineage"]["producer_dag"] == "credit_profile_publish"
    assert {s["name"] for s in shown["state"]["lineage"]["sources"]} == {
        "market_registry",
        "social_insurance_drop",
        "penalty_notices_site",
    }
    found = _govlake(home, "catalog", "search", "行政处罚").stdout
    assert "silver.penalty_notices" in found and "gold.enterprise_credit_profile" in found


def _check_shares(
    home: Path, passwords: dict[str, str], stdout: str, counts: dict[str, int]
) -> None:
    """Each share the demo printed, called as it says: the service API and Delta Sharing."""
    read = re.search(r"human_resources reads (GL-\d+) by service_api: (.*)$", stdout, re.M)
    assert read and "legal_representative=" in read[2]
    profile_file = home / "shares" / "credit_center.share"
    assert profile_file.stat().st_mode & 0o777 == 0o600
    profile = json.loads(profile_file.read_text(encoding="utf-8"))
    table = re.search(r"load_as_pandas\('[^#']+#([\w.-]+)'\)", stdout)
    assert table and profile["bearerToken"].startswith("gls_")
    with _serving(home) as url:
        _login(home, passwords, "human_resources.analyst")
        token = (home / "config" / "govlake" / "token").read_text(encoding="ascii")
        service = f"{url}/v1/resources/{read[1]}/service"
        got = httpx.get(f"{service}/records", params={"limit": 10},
                        headers={"Authorization": f"Bearer {token}"}, timeout=60)  # fmt: skip
        assert got.status_code == 200, got.text
        rows = got.json()["rows"]
        assert len(rows) == 10
        assert {tuple(r) for r in rows} == {
            ("uscc", "name", "legal_representative", "address", "status")
        }
        assert all(set(r["legal_representative"][1:]) <= {"*"} for r in rows), "names masked"
        refused = httpx.get(f"{service}/records", timeout=60)
        assert refused.status_code == 401
        local = home / "credit_center-local.share"
        local.write_text(json.dumps({**profile, "endpoint": f"{url}/delta-sharing"}))
        loaded = subprocess.run(
            [str(client_python()), "-c", LOAD_AS_PANDAS, f"{local}#{table[1]}"],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert loaded.returncode == 0, loaded.stderr[-3000:]
        assert int(loaded.stdout.split()[-1]) == counts["profile"]


LOAD_AS_PANDAS = "import sys, delta_sharing; print(len(delta_sharing.load_as_pandas(sys.argv[1])))"


@contextmanager
def _serving(home: Path) -> Iterator[str]:
    """``govlake catalog serve`` on a free loopback port, as a user starts it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [GOVLAKE, "catalog", "serve", "--port", str(port)]
    log = home / "serve.log"
    url = f"http://127.0.0.1:{port}"
    with (
        log.open("wb") as written,
        subprocess.Popen(
            command, cwd=REPO, env=_env(home), stdout=written, stderr=subprocess.STDOUT
        ) as server,
    ):
        try:
            deadline = time.monotonic() + 60
            while not _answers(f"{url}/openapi.json"):
                assert server.poll() is None, log.read_text(encoding="utf-8", errors="replace")
                assert time.monotonic() < deadline, "govlake catalog serve did not start"
                time.sleep(0.5)
            yield url
        finally:
            server.terminate()
            server.wait(30)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.TransportError:
        return False


def _check_deliveries(home: Path, counts: dict[str, int]) -> None:
    """The three flows reached the departments' local folders and database, as declared."""
    import sqlite3

    tax = home / "exchange" / "tax_bureau" / "inbox"
    lines = (tax / "credit_profile_to_tax__v0.csv").read_bytes().decode("gbk").splitlines()
    assert len(lines) == counts["profile"] + 1 and lines[0].startswith('"uscc","name"')
    manifest = json.loads((tax / "credit_profile_to_tax__v0.csv.manifest.json").read_text())
    assert isinstance(manifest["grant"], int), "delivered under the tax bureau's grant"
    hr = home / "exchange" / "human_resources" / "inbox" / "penalty_notices_to_hr__v0.jsonl"
    notices = [json.loads(line) for line in hr.read_text(encoding="utf-8").splitlines()]
    assert len(notices) == counts["notices_clean"]
    assert all(set(n["party"][1:]) <= {"*"} for n in notices), "the party's name masked"
    with sqlite3.connect(home / "exchange" / "credit_platform.db") as db:
        (pushed,) = db.execute("SELECT count(*) FROM enterprise_credit_profile").fetchone()
    assert pushed == counts["profile"]
    verified = _govlake(home, "exchange", "verify", str(tax))
    assert "matches its manifest" in verified.stdout
    report = _govlake(home, "exchange", "report").stdout
    assert "tax_bureau" in report and "credit_platform" in report


def test_unreachable_source_fails_the_dag_and_writes_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    done = _govlake(
        home,
        "demo",
        "--rows",
        "50",
        check=False,
        extra_env={"AIRFLOW_CONN_MARKET_REGISTRY_DB": "postgres://etl@127.0.0.1:1/registry"},
    )
    assert done.returncode == 1
    assert "error: DAG market_registry_ingest ended failed: see" in done.stderr
    log = (home / "demo.log").read_text()
    assert "source market_registry: cannot connect to postgresql+psycopg://etl@127.0.0.1:1" in log
    assert not (home / "lakehouse" / "bronze").exists()
