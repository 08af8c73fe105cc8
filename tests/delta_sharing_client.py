"""Drive the real ``delta-sharing`` client from its own virtualenv; one call, a JSON answer.

Run as ``python delta_sharing_client.py '<request JSON>'`` by the interpreter of the client's
test-only environment (it pins pyarrow and pandas older than the project's). The request names
the ``call`` (``tables``, ``version``, ``load``, ``changes``), the ``profile`` file and the
``table`` (``share.schema.table``); the answer is ``{"columns", "rows"}``, ``{"tables"}``,
``{"version"}``, or ``{"error": <HTTP status>, "message"}`` when the server refused.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import delta_sharing
from requests.exceptions import HTTPError


def main(request: dict[str, Any]) -> dict[str, Any]:
    """The answer to one request."""
    url = f"{request['profile']}#{request.get('table', '')}"
    call = request["call"]
    if call == "tables":
        found = delta_sharing.SharingClient(request["profile"]).list_all_tables()
        return {"tables": [f"{t.share}.{t.schema}.{t.name}" for t in found]}
    if call == "version":
        return {"version": delta_sharing.get_table_version(url)}
    if call == "load":
        frame = delta_sharing.load_as_pandas(
            url, limit=request.get("limit"), version=request.get("version")
        )
    else:
        frame = delta_sharing.load_table_changes_as_pandas(
            url, starting_version=request["starting_version"],
            ending_version=request.get("ending_version"),
        )  # fmt: skip
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return {"columns": list(frame.columns), "rows": records}


if __name__ == "__main__":
    try:
        answer = main(json.loads(sys.argv[1]))
    except HTTPError as exc:
        status = exc.response.status_code if exc.response is not None else None
        answer = {"error": status, "message": str(exc)[:2000]}
    print(json.dumps(answer, default=str, ensure_ascii=False))
