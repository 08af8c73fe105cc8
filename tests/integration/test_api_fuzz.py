"""Schemathesis against the catalog API served on loopback, on SQLite and PostgreSQL.

The API is the real one (:mod:`apps.catalog_api` with its sharing routes) over the registry's
scenario: the directory published, bronze and silver not, the tax bureau holding a grant in each
query mode. Every operation of its OpenAPI document is fuzzed with a bounded number of cases,
valid and invalid ones, some aimed at the directory and one of its records. With the token of
the tax bureau's analyst or of the platform's steward (who sees unpublished entries), no answer
is a server error and each is as the document says (status, content type, body, the token
needed). Each case is sent again without a token, or with a malformed, forged, expired or
revoked one (in turn): every answer is a 401. Each run prints its figures (``pytest -rP``).
What the fuzzing found is fixed, and each fix has a regular test here too.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import jwt
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.core.failures import FailureGroup

from apps.catalog_api import create_app
from govlake.principal import Principal
from govlake.runtime import Runtime
from services import audit
from services.identity import authentication
from tests.conftest import TEST_PASSWORD
from tests.integration.sharing_scenario import (
    GOLD,
    gold_code,
    grant_every_query_mode,
    on_postgres,
    published_registry,
)
from tests.served import served

pytestmark = [pytest.mark.integration, pytest.mark.slow]
CASES_PER_OPERATION = 40  # each sent with a valid token, then with a bad one
# What a schema-valid request may get: a filter, a cursor and a list of granted fields are
# languages a JSON Schema cannot state, so a string of the right type may still be one the grant
# refuses (the documented 400).
ACCEPTED = ["2xx", "400", "401", "403", "404", "429"]
CHECKS = schemathesis.Config.from_dict(
    {"checks": {"positive_data_acceptance": {"expected-statuses": ACCEPTED}}}
)


@dataclass
class Target:
    """The served API's schema, what to aim at, and the tokens to call it with."""

    url: str
    schema: schemathesis.BaseSchema
    aims: dict[str, str]  # path parameter -> a value that exists (the directory, its record)
    valid: list[str]
    invalid: dict[str, str | None]  # kind -> token (None: no Authorization header)
    rt: Runtime


@dataclass
class Tally:
    """The cases sent and what went wrong, by operation."""

    cases: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (what, how to repeat it)

    def report(self) -> str:
        """What went wrong, how often, and a few of the requests to repeat it with."""
        kinds = Counter(what for what, _ in self.failures)
        return "\n".join(
            [*(f"{n} x {what}" for what, n in kinds.most_common()),
             *(curl for _, curl in self.failures[:5])]
        )  # fmt: skip

    def line(self, name: str) -> str:
        return (
            f"{name}: {sum(self.cases.values())} cases over {len(self.cases)} operations, "
            f"statuses {dict(sorted(self.statuses.items()))}, {len(self.failures)} failures"
        )


@pytest.fixture(params=["sqlite", "postgresql"])
def target(
    request: pytest.FixtureRequest,
    conf_dir: Path,
    registry_db: Path,
    monkeypatch: pytest.MonkeyPatch,
    sign_in: Callable[..., Principal],
) -> Iterator[Target]:
    """The API served over the shared scenario, its OpenAPI document loaded by schemathesis."""
    if request.param == "postgresql":
        on_postgres(request.getfixturevalue("postgres_schema"), monkeypatch)
    monkeypatch.setenv("GOVLAKE_SHARE_URL_KEY", "a-share-url-key-for-the-fuzz-run-0123456789")
    people = published_registry(conf_dir, sign_in)
    grant_every_query_mode(people)
    rt = people["tax.analyst"]
    uscc = rt.lake.read(GOLD).column("uscc")[0].as_py()
    valid = [authentication.login(rt, n, TEST_PASSWORD).token for n in ("tax.analyst", "li.na")]
    with served(create_app(rt)) as url:
        yield Target(
            url,
            schemathesis.openapi.from_url(f"{url}/openapi.json", config=CHECKS),
            {"code": gold_code(rt), "key": uscc},
            valid,
            _bad_tokens(rt, valid[0]),
            rt,
        )


def _bad_tokens(rt: Runtime, valid: str) -> dict[str, str | None]:
    """Every kind of token the API must refuse, by kind."""
    forged = jwt.encode(
        jwt.decode(valid, options={"verify_signature": False}),
        "another-key-of-at-least-32-bytes-long!",
        algorithm="HS256",
    )
    yesterday = datetime.now(UTC) - timedelta(days=1)
    expired = authentication.login(rt, "tax.analyst", TEST_PASSWORD, clock=lambda: yesterday)
    revoked = authentication.login(rt, "wang.fang", TEST_PASSWORD)
    authentication.logout(rt, revoked.principal)
    return {
        "none": None,
        "malformed": "not.a.token",
        "forged": forged,
        "expired": expired.token,
        "revoked": revoked.token,
    }


def _cases(operation: schemathesis.APIOperation, aims: dict[str, str]) -> st.SearchStrategy[Case]:
    """Valid and invalid cases of ``operation``, some with its path aimed at existing data."""
    aimed = {p: aims[p] for p in re.findall(r"{(\w+)}", operation.path) if p in aims}
    modes = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    strategies = [operation.as_strategy(generation_mode=m) for m in modes]
    if aimed:
        strategies += [
            operation.as_strategy(generation_mode=m, path_parameters=aimed) for m in modes
        ]
    return st.one_of(strategies)


def _fuzz(target: Target, send: Callable[[Case, requests.Session], None]) -> None:
    """Send :data:`CASES_PER_OPERATION` cases of every operation of the schema through ``send``."""
    with requests.Session() as session:
        for found in target.schema.get_all_operations():

            @settings(
                max_examples=CASES_PER_OPERATION,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=_cases(found.ok(), target.aims))
            def run(case: Case) -> None:
                send(case, session)

            run()


def test_every_answer_as_documented_and_none_without_a_valid_token(target: Target) -> None:
    signed, unsigned = Tally(), Tally()

    def as_signed_in(case: Case, session: requests.Session) -> None:
        label = case.operation.label
        token = target.valid[signed.cases[label] % len(target.valid)]
        signed.cases[label] += 1
        headers = {"Authorization": f"Bearer {token}"}
        response = case.call(session=session, headers=headers)
        signed.statuses[response.status_code] += 1
        sent = {"session": session, "headers": headers}
        if case.operation.path.startswith("/delta-sharing/"):
            # The share interface answers a user's token with its protocol's 401: held to no
            # 5xx here; tests/integration/test_delta_sharing.py checks its answers with the
            # protocol's own client.
            if response.status_code >= 500:
                signed.failures.append((f"{label}: {response.status_code}", case.as_curl_command()))
            return
        try:
            case.validate_response(response, headers=headers, transport_kwargs=sent)
        except FailureGroup as failed:
            titles = "; ".join(sorted({f.title for f in failed.exceptions}))
            signed.failures.append((f"{label}: {titles}", case.as_curl_command()))

    def as_anyone_else(case: Case, session: requests.Session) -> None:
        label = case.operation.label
        kind, token = list(target.invalid.items())[unsigned.cases[label] % len(target.invalid)]
        unsigned.cases[label] += 1
        case.headers = {k: v for k, v in (case.headers or {}).items()
                        if k.lower() != "authorization"}  # fmt: skip
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = case.call(session=session, headers=headers)
        unsigned.statuses[response.status_code] += 1
        # A share's file address is authorised by its signature, not by a token: refused
        # with 403, or 422 when the signature's parameters are missing or malformed.
        signed_url = case.operation.path.startswith("/delta-sharing/files/")
        if response.status_code not in ({401, 403, 422} if signed_url else {401}):
            what = f"{label}, {kind} token: {response.status_code}"
            unsigned.failures.append((what, f"{case.as_curl_command()}: {response.text[:200]}"))

    def send(case: Case, session: requests.Session) -> None:
        as_signed_in(case, session)
        as_anyone_else(case, session)

    _fuzz(target, send)
    print(signed.line("valid tokens"))
    print(unsigned.line(f"tokens {', '.join(target.invalid)} in turn"))
    assert not signed.failures, signed.report()
    assert not unsigned.failures, unsigned.report()
    assert set(signed.cases) == {op.ok().label for op in target.schema.get_all_operations()}
    assert signed.statuses[200] > 0 and not any(status >= 500 for status in signed.statuses)
    assert set(unsigned.statuses) <= {401, 403, 422} and unsigned.statuses[401] > 0
    assert audit.verify(target.rt).ok


# -- what the fuzzing found, each a regular test ---------------------------------------------------


@pytest.mark.parametrize("target", ["sqlite"], indirect=True)
def test_the_document_names_every_answer_of_every_route(target: Target) -> None:
    paths = httpx.get(f"{target.url}/openapi.json").json()["paths"]
    answers = {
        (path, method): set(operation["responses"])
        for path, methods in paths.items()
        for method, operation in methods.items()
    }
    users = {op: statuses for op, statuses in answers.items() if not op[0].startswith("/delta-")}
    assert all({"401", "422", "503"} <= statuses and statuses & {"200", "201"}
               for statuses in users.values()), users  # fmt: skip
    assert {"403", "404"} <= answers[("/resources/{code}", "get")]
    sharing = [op for op in users if op[0].startswith("/v1/resources/")]
    assert len(sharing) == 4 and all({"400", "403", "429"} <= answers[op] for op in sharing)
    assert "201" in answers[("/v1/resources/{code}/exports", "post")]
    for method in ("get", "head"):  # an export's file, by its signed URL
        assert {"200", "403", "404"} <= answers[("/v1/exports/{grant_id}/{path}", method)]
    assert "404" in answers[("/v1/resources/{code}/records/{key}", "get")]
    quota = paths["/v1/resources/{code}/records"]["get"]["responses"]["429"]
    assert quota["headers"]["Retry-After"]["schema"] == {"type": "integer"}
    shares = {op: statuses for op, statuses in answers.items() if op[0].startswith("/delta-")}
    assert shares and all({"400", "401", "403", "404", "429"} <= s for s in shares.values())
    assert set(answers) == set(users) | set(shares)  # every route is one or the other


def test_a_nul_in_a_code_names_no_resource(target: Target) -> None:
    # PostgreSQL cannot compare a text with a NUL: the lookup was a 500 there, and unrecorded.
    with _client(target, target.valid[0]) as client:
        shown = client.get("/resources/GL-0%000002")
        assert shown.status_code == 404
        assert shown.json()["detail"].startswith("no catalog resource 'GL-0\\x000002': run")
        for route in ("records/1", "records", "service/records", "service/openapi.json"):
            read = client.get(f"/v1/resources/%00/{route}")
            assert read.status_code == 403 and "no published resource" in read.text, route
    logged = audit.events(target.rt, action="api.request", limit=5)
    assert logged[-1].object == "/resources/GL-0␀0002" and logged[-1].outcome == "refused"
    assert audit.verify(target.rt).ok


def test_a_row_id_beyond_the_database_integer_is_a_422(target: Target) -> None:
    # PostgreSQL's integer column cannot hold it: the lookup was a 500 there.
    with _client(target, target.valid[0]) as client:
        for too_big in ("2147483648", "314467993703", "-1"):
            read = client.post(f"/v1/notify/inbox/{too_big}/read")
            resend = client.post(f"/v1/notify/deliveries/{too_big}/resend")
            got = client.get(f"/delta-sharing/files/{too_big}/x.parquet",
                             params={"holder": "x", "expires": 1, "signature": "y"})  # fmt: skip
            assert (read.status_code, resend.status_code, got.status_code) == (422, 422, 422)
    assert audit.verify(target.rt).ok


@pytest.mark.parametrize("target", ["sqlite"], indirect=True)
def test_a_parameter_a_route_does_not_take_or_given_twice_is_refused(target: Target) -> None:
    code = target.aims["code"]
    with _client(target, target.valid[0]) as client:
        for path, reason in (
            ("/resources?departmnet=tax", "unknown query parameter 'departmnet': this route "
             "takes category, classification, department, published_only, sharing"),
            ("/export?=true", "unknown query parameter '': this route takes published_only"),
            ("/search?q=a&q=b", "query parameter 'q' is given 2 times: give it once"),
            (f"/v1/resources/{code}/records?limit=1&limit=900", "'limit' is given 2 times"),
            (f"/v1/resources/{code}/records/1?fields=uscc", "this route takes none"),
        ):  # fmt: skip
            refused = client.get(path)
            assert refused.status_code == 422, path
            (error,) = refused.json()["detail"]
            assert reason in error["msg"] and error["loc"][0] == "query", path
        assert client.get("/resources", params={"department": "tax"}).status_code == 200
    with _client(target, None) as client:  # nothing is told before the token is checked
        assert client.get("/resources?departmnet=tax").status_code == 401
        assert client.get(f"/v1/resources/{code}/service/openapi.json").status_code == 401


def _client(target: Target, token: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=target.url, headers=headers, timeout=30)
