"""The audit ledger on SQLite and on the local PostgreSQL: appends, readers, and tampering.

Every attack is made as someone with the database's owner rights would make it: the
append-only guard (a trigger) dropped first, then plain SQL on ``audit_event``. Each must be
found by ``verify``, which names the first bad row.
"""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from apps.cli.main import app
from govlake.errors import GovlakeError
from govlake.platform_db.schema import audit_event, notify_delivery, notify_message
from govlake.runtime import Runtime
from services import audit
from services.audit import checkpoints
from services.audit.chain import canonical, seal
from services.audit.records import AuditEvent
from tests.conftest import REPO

pytestmark = pytest.mark.integration
CHAIN_KEY = "a-test-chain-key-of-forty-characters-long"
GUARDS = {
    "sqlite": [
        "DROP TRIGGER IF EXISTS audit_event_no_update",
        "DROP TRIGGER IF EXISTS audit_event_no_delete",
    ],
    "postgresql": ["DROP TRIGGER IF EXISTS audit_event_append_only ON audit_event"],
}
EVENTS = 8
UNSET = (
    "GOVLAKE_AUDIT_VERIFY_KEY",
    "AIRFLOW_CONN_GOVLAKE_AUDIT",
    "AIRFLOW_CONN_GOVLAKE_AUDIT_SIGNING",
    "AIRFLOW_CONN_GOVLAKE_PLATFORM",
)


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> Ed25519PrivateKey:
    """The chain key and a fresh checkpoint signing key in the environment; nothing else set."""
    signing = Ed25519PrivateKey.generate()
    monkeypatch.setenv("GOVLAKE_AUDIT_KEY", CHAIN_KEY)
    monkeypatch.setenv("GOVLAKE_AUDIT_SIGNING_KEY", _raw(signing))
    for name in UNSET:
        monkeypatch.delenv(name, raising=False)
    return signing


def _raw(key: Ed25519PrivateKey) -> str:
    from cryptography.hazmat.primitives import serialization

    raw = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return base64.b64encode(raw).decode()


@pytest.fixture(params=["sqlite", "postgresql"])
def rt(
    request: pytest.FixtureRequest,
    conf_dir: Path,
    keys: Ed25519PrivateKey,
    monkeypatch: pytest.MonkeyPatch,
) -> Runtime:
    """A runtime on an empty platform DB: SQLite in the test's home, or a new PostgreSQL schema."""
    if request.param == "postgresql":
        engine, schema = request.getfixturevalue("postgres_schema")
        _platform_on(monkeypatch, engine.url, schema)
    runtime = Runtime.load(conf_dir)
    assert runtime.platform_db.dialect.name == request.param
    return runtime


def _platform_on(monkeypatch: pytest.MonkeyPatch, url: sa.URL, schema: str) -> None:
    """Point the platform DB at ``schema`` of the PostgreSQL server at ``url``."""
    text = url.render_as_string(hide_password=False)
    monkeypatch.setenv("AIRFLOW_CONN_GOVLAKE_PLATFORM", f"{text}?options=-csearch_path%3D{schema}")


def _fill(rt: Runtime, count: int = EVENTS) -> list[AuditEvent]:
    """``count`` events of several people, actions and outcomes."""
    people = [("li.na", "platform"), ("zhang.wei", "market_regulation"), ("svc:collect", None)]
    written = []
    for n in range(count):
        principal, organisation = people[n % len(people)]
        written.append(
            audit.record(
                rt,
                principal=principal,
                organisation=organisation,
                action=("catalog.publish", "auth.login", "exchange.deliver")[n % 3],
                object=f"GL-{n:06d}",
                outcome=("success", "refused", "failed")[n % 3],
                client=f"10.0.0.{n}",
                request_id=f"req-{n}",
                details={"版本": n, "reason": "不符合共享条件" if n % 3 == 1 else None},
            )
        )
    return written


def _attack(rt: Runtime, *statements: sa.Executable) -> None:
    """Tamper with the table directly: drop the append-only guard, then run ``statements``."""
    engine = rt.platform_db
    with engine.begin() as db:
        for guard in GUARDS[engine.dialect.name]:
            db.exec_driver_sql(guard)
        for statement in statements:
            db.execute(statement)


def _row(n: int) -> sa.ColumnElement[bool]:
    return audit_event.c.id == n


def _first_bad(rt: Runtime) -> audit.Problem:
    """The first bad row that ``verify`` reports (it must report one)."""
    result = audit.verify(rt)
    assert not result.ok, "tampering went unnoticed"
    (problem,) = [p for p in result.problems if p.row is not None]
    return problem


def test_a_clean_ledger_verifies_and_reads_back_as_written(rt: Runtime) -> None:
    written = _fill(rt)
    assert [e.id for e in written] == list(range(1, EVENTS + 1))
    assert all(b.prev_hash == a.hash for a, b in zip(written, written[1:], strict=False))
    assert all(e.at.tzinfo is UTC for e in written)
    assert [e.at for e in written] == sorted(e.at for e in written)
    assert abs(written[-1].at - datetime.now(UTC)) < timedelta(minutes=1)  # the DB's clock
    result = audit.verify(rt)
    assert result.ok and result.events == EVENTS and result.last_hash == written[-1].hash
    assert result.checkpoint is None

    assert audit.events(rt, limit=EVENTS) == written[::-1]  # newest first, as written
    assert [e.id for e in audit.events(rt, user="zhang.wei")] == [8, 5, 2]
    assert [e.id for e in audit.events(rt, action="auth.login", outcome="refused")] == [8, 5, 2]
    assert [e.id for e in audit.events(rt, object="GL-000003")] == [4]
    assert [e.id for e in audit.events(rt, since=written[5].at)] == [8, 7, 6]
    assert [e.id for e in audit.events(rt, limit=2)] == [8, 7]
    assert audit.events(rt, object="GL-000001")[0].details == {
        "版本": 1,
        "reason": "不符合共享条件",
    }


def test_the_guard_refuses_updates_and_deletes(rt: Runtime) -> None:
    _fill(rt, 2)
    for statement in (
        audit_event.update().where(_row(1)).values(outcome="success"),
        audit_event.delete().where(_row(2)),
    ):
        with pytest.raises(sa.exc.DBAPIError, match="audit_event is append-only"):
            with rt.platform_db.begin() as db:
                db.execute(statement)
    assert audit.verify(rt).ok


def test_bad_events_are_refused_and_nothing_is_written(rt: Runtime) -> None:
    base: dict[str, Any] = {"principal": "li.na", "action": "auth.login", "object": "user:li.na"}
    for changed, message in (
        ({"outcome": "maybe"}, "outcome must be one of success, refused, failed"),
        ({"outcome": "success", "principal": ""}, "needs a principal"),
        ({"outcome": "success", "object": "x" * 256}, "object is longer than 255"),
        ({"outcome": "success", "details": {"t": datetime.now(UTC)}}, "not a JSON object"),
        ({"outcome": "success", "details": {"x": float("nan")}}, "not a JSON object"),
    ):
        with pytest.raises(GovlakeError, match=message):
            audit.record(rt, **{**base, **changed})
    assert audit.events(rt) == []


def test_a_nul_in_what_is_recorded_is_shown_and_the_event_kept(rt: Runtime) -> None:
    # A request for /resources/%00: PostgreSQL text cannot hold the NUL, the ledger still records.
    written = audit.record(
        rt,
        principal="anonymous\x00admin",
        action="api.request",
        object="/resources/\x00",
        outcome="refused",
        details={"query": "q=\x00"},
    )
    assert (written.principal, written.object) == ("anonymous␀admin", "/resources/␀")
    (read,) = audit.events(rt)
    assert read == written and read.details == {"query": "q=\x00"}
    assert audit.verify(rt).ok


FORGED = {
    "at": datetime(2020, 1, 1, tzinfo=UTC),
    "principal": "mallory",
    "organisation": "elsewhere",
    "action": "auth.logout",
    "object": "GL-999999",
    "outcome": "success",
    "client": "203.0.113.9",
    "request_id": "req-forged",
    "details": {"版本": 99},
    "prev_hash": "1" * 64,
    "hash": "f" * 64,
}


@pytest.mark.parametrize("field", FORGED)
def test_a_changed_field_is_found_at_its_row(rt: Runtime, field: str) -> None:
    _fill(rt)
    _attack(rt, audit_event.update().where(_row(5)).values({field: FORGED[field]}))
    problem = _first_bad(rt)
    assert problem.row == 5
    assert "hash does not match its content" in problem.what
    assert audit.verify(rt).events == 4


@pytest.mark.parametrize(("deleted", "first"), [([1], 1), ([4], 4), ([4, 5, 6], 4), ([2, 7], 2)])
def test_a_deleted_row_is_found(rt: Runtime, deleted: list[int], first: int) -> None:
    _fill(rt)
    _attack(rt, audit_event.delete().where(audit_event.c.id.in_(deleted)))
    problem = _first_bad(rt)
    assert problem.row == first and "missing" in problem.what and "(deleted)" in problem.what


def _forged(id: int, prev_hash: str, key: bytes | None) -> sa.Executable:
    """A row made without the chain key: sealed with plain SHA-256, or HMAC under a guess."""
    fields = {**FORGED, "id": id, "prev_hash": prev_hash}
    fields.pop("hash")
    sealed_fields = {**fields, "at": "2020-01-01T00:00:00.000000Z"}
    if key is None:
        digest = hashlib.sha256(prev_hash.encode() + canonical(sealed_fields)).hexdigest()
    else:
        digest = seal(key, prev_hash, sealed_fields)
    return audit_event.insert().values(**fields, hash=digest)


@pytest.mark.parametrize("key", [None, b"a-guessed-key-of-thirty-two-bytes!"])
def test_a_forged_row_is_found_even_with_a_plausible_prev_hash(
    rt: Runtime, key: bytes | None
) -> None:
    head = _fill(rt)[-1]
    _attack(rt, _forged(head.id + 1, head.hash, key))
    problem = _first_bad(rt)
    assert problem.row == EVENTS + 1 and "hash does not match" in problem.what


def test_a_row_inserted_before_the_first_is_found(rt: Runtime) -> None:
    _fill(rt)
    _attack(rt, _forged(0, "0" * 64, None))
    problem = _first_bad(rt)
    assert problem.row == 0 and "not part of the chain" in problem.what


@pytest.mark.parametrize(("one", "other"), [(3, 6), (4, 5), (1, EVENTS)])
def test_swapped_rows_are_found(rt: Runtime, one: int, other: int) -> None:
    _fill(rt)
    _attack(
        rt,
        audit_event.update().where(_row(one)).values(id=-1),
        audit_event.update().where(_row(other)).values(id=one),
        audit_event.update().where(_row(-1)).values(id=other),
    )
    assert _first_bad(rt).row == min(one, other)


def test_a_cut_tail_is_found_against_the_latest_checkpoint(rt: Runtime) -> None:
    _fill(rt, 10)
    head, path = audit.checkpoint(rt)
    assert (head.count, head.last_id) == (10, 10) and path.parent == checkpoints.folder(rt.config)
    _fill(rt, 2)
    _attack(rt, audit_event.delete().where(audit_event.c.id > 10))
    after = audit.verify(rt)  # rows after the latest checkpoint: not told from never written
    assert after.ok and after.events == 10 and after.checkpoint == head

    _attack(rt, audit_event.delete().where(audit_event.c.id > 8))
    problem = _first_bad(rt)
    assert problem.row == 9 and "cut off" in problem.what and "covers 10 rows" in problem.what
    with pytest.raises(GovlakeError, match="no checkpoint written.*row 9: missing"):
        audit.checkpoint(rt)


def _resealed(rt: Runtime, first: int, last: int) -> list[sa.Executable]:
    """Row ``first`` made a success, and rows ``first`` to ``last`` sealed again with the key."""
    written = {e.id: e for e in audit.events(rt, limit=EVENTS)}
    statements, prev_hash = [], written[first - 1].hash
    for n in range(first, last + 1):
        fields = written[n].sealed_fields() | {"prev_hash": prev_hash}
        if n == first:
            fields["outcome"] = "success"
        prev_hash = seal(CHAIN_KEY.encode(), fields["prev_hash"], fields)
        statements.append(
            audit_event.update()
            .where(_row(n))
            .values(outcome=fields["outcome"], prev_hash=fields["prev_hash"], hash=prev_hash)
        )
    return statements


def test_a_rewrite_with_the_chain_key_is_found_at_the_link_or_the_checkpoint(rt: Runtime) -> None:
    _fill(rt)
    audit.checkpoint(rt)
    _attack(rt, *_resealed(rt, 3, 3))  # row 3 re-sealed, row 4 still follows the old one
    problem = _first_bad(rt)
    assert problem.row == 4 and "prev_hash is not the hash of row 3" in problem.what
    _attack(rt, *_resealed(rt, 3, EVENTS))  # every later row re-sealed too
    problem = _first_bad(rt)
    assert problem.row == EVENTS and "differs from the checkpoint" in problem.what


def test_a_tampered_or_foreign_checkpoint_is_found(
    rt: Runtime, keys: Ed25519PrivateKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fill(rt)
    _, path = audit.checkpoint(rt)
    assert audit.verify(rt).ok
    monkeypatch.delenv("GOVLAKE_AUDIT_SIGNING_KEY")  # the auditor holds the public key only
    monkeypatch.setenv("GOVLAKE_AUDIT_VERIFY_KEY", base64.b64encode(
        keys.public_key().public_bytes_raw()).decode())  # fmt: skip
    assert audit.verify(rt).ok

    path.chmod(0o644)
    path.write_text(path.read_text().replace('"count": 8', '"count": 7'))
    foreign = checkpoints.Checkpoint(EVENTS, EVENTS, "f" * 64, datetime.now(UTC))
    other = checkpoints.write(path.parent, foreign, Ed25519PrivateKey.generate())
    (path.parent / "broken.json").write_text("{")
    result = audit.verify(rt)
    assert not result.ok and result.events == EVENTS and result.checkpoint is None
    assert [str(p) for p in result.problems] == [
        f"checkpoint {path}: the signature does not verify (altered or forged)",
        f"checkpoint {other}: the signature does not verify (altered or forged)",
        f"checkpoint {path.parent / 'broken.json'}: unreadable (Expecting property name "
        "enclosed in double quotes: line 1 column 2 (char 1))",
    ]


def test_without_a_key_nothing_is_written_or_verified(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fill(rt, 1)
    audit.checkpoint(rt)
    monkeypatch.delenv("GOVLAKE_AUDIT_KEY")
    for attempt in (
        lambda: audit.record(rt, principal="li.na", action="a", object="o", outcome="success"),
        lambda: audit.verify(rt),
    ):
        with pytest.raises(GovlakeError, match="no audit key: set GOVLAKE_AUDIT_KEY or the "
                           "password of the Airflow Connection 'govlake_audit'"):  # fmt: skip
            attempt()
    monkeypatch.setenv(
        "AIRFLOW_CONN_GOVLAKE_AUDIT", '{"conn_type": "generic", "password": "short"}'
    )
    with pytest.raises(GovlakeError, match="password of AIRFLOW_CONN_GOVLAKE_AUDIT is shorter"):
        audit.verify(rt)
    monkeypatch.setenv(
        "AIRFLOW_CONN_GOVLAKE_AUDIT", f'{{"conn_type": "generic", "password": "{CHAIN_KEY}"}}'
    )
    monkeypatch.delenv("GOVLAKE_AUDIT_SIGNING_KEY")
    with pytest.raises(GovlakeError, match="no key to check the audit checkpoints"):
        audit.verify(rt)
    with pytest.raises(GovlakeError, match="no checkpoint signing key: set GOVLAKE_AUDIT_SIGNING"):
        audit.checkpoint(rt)
    assert len(audit.events(rt)) == 1


APPENDER = """
import sys, time
from pathlib import Path
from govlake.runtime import Runtime
from services.audit import record

conf, folder, count, name = sys.argv[1:]
rt = Runtime.load(conf)
rt.platform_db
(Path(folder) / name).touch()
while not (Path(folder) / "go").exists():
    time.sleep(0.005)
for n in range(int(count)):
    record(rt, principal=name, action="test.append", object=str(n), outcome="success")
"""


def _appender(rt: Runtime, folder: Path, count: int, name: str) -> subprocess.Popen[bytes]:
    """A process that appends ``count`` events as ``name`` once ``folder/go`` exists."""
    command = [sys.executable, "-c", APPENDER, str(rt.config.conf_dir), str(folder), str(count)]
    return subprocess.Popen([*command, name], cwd=REPO, env=os.environ.copy())


def test_concurrent_appends_stay_one_chain(rt: Runtime, tmp_path: Path) -> None:
    processes, threads, each = 2, 2, 25
    names = [f"process-{n}" for n in range(processes)]
    children = [_appender(rt, tmp_path, each, name) for name in names]

    def append(name: str) -> None:
        for n in range(each):
            audit.record(rt, principal=name, action="test.append", object=str(n), outcome="success")

    try:
        deadline = time.monotonic() + 120
        while not all((tmp_path / name).exists() for name in names):  # all ready, then all go
            assert time.monotonic() < deadline and all(c.poll() is None for c in children)
            time.sleep(0.01)
        (tmp_path / "go").touch()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(append, [f"thread-{n}" for n in range(threads)]))
        assert [child.wait(timeout=120) for child in children] == [0] * processes
    finally:
        for child in children:
            child.kill()
    total = (processes + threads) * each
    result = audit.verify(rt)
    assert result.ok and result.events == result.last_id == total
    by_writer = Counter(e.principal for e in audit.events(rt, limit=total))
    assert by_writer == {name: each for name in [*names, *(f"thread-{n}" for n in range(threads))]}


PASSWORD = "Audit-Reader-Password-42"


def _people(rt: Runtime) -> None:
    """A platform administrator, an auditor and an analyst, each with a password."""
    from services.identity import delegation, user_admin
    from services.identity.user_admin import NewAccount

    admin = rt.acting_as(
        user_admin.bootstrap(rt, NewAccount("admin", "admin", "platform", password=PASSWORD))
    )
    for username, role in (("ma.li", "auditor"), ("sun.yu", "analyst")):
        user_admin.add_user(admin, NewAccount(username, username, "platform", password=PASSWORD))
        delegation.assign_role(admin, username, role)


def test_the_command_verifies_reads_and_checkpoints(
    rt: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOVLAKE_TOKEN_KEY", "a-token-signing-key-for-the-audit-tests-0123")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    _fill(rt)
    _people(rt)
    runner = CliRunner()

    def govlake(*args: str, command: str = "audit", stdin: str | None = None) -> Any:
        conf = ["--conf", str(rt.config.conf_dir)]
        return runner.invoke(app, [command, *args, *conf], input=stdin)

    assert govlake("verify").stderr.startswith("error: not logged in")
    assert govlake("sun.yu", "--password-stdin", command="login", stdin=PASSWORD).exit_code == 0
    analyst = govlake("verify")
    assert analyst.exit_code == 1 and "read_audit" in analyst.stderr
    (denied,) = audit.events(rt, user="sun.yu", action="access.denied")
    assert (denied.object, denied.outcome) == ("audit", "refused")

    assert govlake("ma.li", "--password-stdin", command="login", stdin=PASSWORD).exit_code == 0
    total = audit.verify(rt).events
    clean = govlake("verify")
    assert clean.exit_code == 0, clean.output
    assert f"ok: {total} events verified up to row {total}; no checkpoint yet" in clean.stdout
    made = govlake("checkpoint")
    assert made.exit_code == 0 and f"checkpoint: {total} events, row {total}" in made.stdout
    assert "agrees with the checkpoint of" in govlake("verify").stdout
    log = govlake("log", "--user", "zhang.wei", "--outcome", "refused", "--since", "2020-01-01")
    assert log.exit_code == 0 and "GL-000004" in log.stdout and "GL-000003" not in log.stdout
    assert govlake("log", "--outcome", "maybe").exit_code == 1

    _attack(rt, audit_event.delete().where(_row(3)))
    tampered = govlake("verify")
    assert tampered.exit_code == 1
    assert tampered.stderr.splitlines() == [
        "tampered: row 3: missing (deleted); the next row present is 4"
    ]
    with rt.platform_db.connect() as conn:  # every auditor is told, and no one else
        told = conn.execute(
            sa.select(notify_message.c.subject, notify_message.c.body, notify_delivery.c.recipient)
            .join(notify_delivery, notify_delivery.c.message == notify_message.c.id)
            .where(notify_message.c.event == "audit.tampered")
        ).all()
    assert [(r.subject, r.recipient) for r in told] == [("【告警】审计日志校验未通过", "ma.li")]
    assert told[0].body.startswith("ma.li 校验审计日志发现 1 处问题，首处：row 3: missing")
    refused = govlake("checkpoint")
    assert refused.exit_code == 1 and "error: no checkpoint written" in refused.stderr


@pytest.fixture
def app_role(postgres_schema: tuple[sa.Engine, str]) -> Iterator[str]:
    """A login role of the local PostgreSQL, dropped with what it was granted afterwards."""
    engine, _ = postgres_schema
    role = f"audit_app_{uuid.uuid4().hex[:8]}"
    with engine.begin() as db:
        db.exec_driver_sql(f"CREATE ROLE {role} LOGIN")
    yield role
    with engine.begin() as db:
        db.exec_driver_sql(f"DROP OWNED BY {role}")
        db.exec_driver_sql(f"DROP ROLE {role}")


def test_an_application_role_appends_and_reads_but_cannot_change_rows(
    postgres_schema: tuple[sa.Engine, str],
    app_role: str,
    conf_dir: Path,
    keys: Ed25519PrivateKey,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine, schema = postgres_schema
    _platform_on(monkeypatch, engine.url, schema)
    assert Runtime.load(conf_dir).platform_db  # the owner migrates
    with engine.begin() as db:
        for grant in (
            f"GRANT USAGE ON SCHEMA {schema} TO {app_role}",
            f"GRANT SELECT ON {schema}.alembic_version TO {app_role}",
            f"GRANT SELECT, INSERT ON {schema}.audit_event TO {app_role}",
        ):
            db.exec_driver_sql(grant)
    as_app = engine.url.set(username=app_role).render_as_string(hide_password=False)
    monkeypatch.setenv(
        "AIRFLOW_CONN_GOVLAKE_PLATFORM", f"{as_app}?options=-csearch_path%3D{schema}"
    )
    rt = Runtime.load(conf_dir)
    _fill(rt, 3)
    assert len(audit.events(rt)) == 3 and audit.verify(rt).ok
    for statement in (
        "UPDATE audit_event SET outcome = 'success' WHERE id = 2",
        "DELETE FROM audit_event WHERE id = 3",
        "TRUNCATE audit_event",
        "DROP TRIGGER audit_event_append_only ON audit_event",
    ):
        with pytest.raises(sa.exc.ProgrammingError, match="permission denied|must be owner"):
            with rt.platform_db.begin() as db:
                db.exec_driver_sql(statement)
    assert audit.verify(rt).events == 3
