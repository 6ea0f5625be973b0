"""The OpenAPI description checked by schemathesis against the running app (werkzeug on an ephemeral
port in a thread): for every operation, schema-valid requests with an operator token and a tenant
admin's token never get a 5xx, and every answer conforms to the description (status documented,
content type, body schema)."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.serving import make_server

from tests.daemon_harness import daemon_for_app
from tests.fakes import FakePbx

# schemathesis and hypothesis (a second of CPU to import) are imported by the test that uses them, not
# at collection: under xdist every worker collects every file, and only one runs this one.
# Small enough for the suite (about 30 s per database); raise it for a deeper run.
EXAMPLES = int(os.environ.get("CLUSTERPBX_SCHEMATHESIS_EXAMPLES", "6"))
# CLUSTERPBX_SCHEMATHESIS_NEGATIVE=1: schema-violating requests instead (then only "no 5xx" is checked).
NEGATIVE = os.environ.get("CLUSTERPBX_SCHEMATHESIS_NEGATIVE") == "1"


@pytest.fixture
def served(app: Any, engine: Any, tmp_path: Any, monkeypatch: Any) -> Iterator[str]:
    # Mail (password reset links) goes to this test's own instance folder.
    monkeypatch.setenv("CLUSTERPBX_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.setenv("CLUSTERPBX_INSTANCE_PATH", str(tmp_path / "instance"))
    app.config["API_RATE_LIMIT"] = "100000/minute"
    app.testing = False  # errors become 500 answers (as in production) instead of exceptions in the thread
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    # A real control daemon on a fake PBX: the end-user routes that need the PBX answer too.
    with daemon_for_app(app, engine, FakePbx()):
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_port}"
        finally:
            server.shutdown()
            thread.join(5)


def load_operations(base: str) -> list[Any]:
    """The description's operations, end-user routes first, while the PBX is up (an operator's node
    changes may take it down, and then 503 is the right answer); deletions last, so the other operations
    see objects to work on. Loaded once for both tokens."""
    import schemathesis

    schema = schemathesis.openapi.from_url(f"{base}/api/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 30
    operations.sort(key=lambda op: (not op.path.startswith("/api/v1/me"), op.method.upper() == "DELETE"))
    return operations


def run_all(base: str, operations: list[Any], token: str) -> list[str]:
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
    failures: list[str] = []
    headers = {"Authorization": f"Bearer {token}"}
    for op in operations:

        mode = schemathesis.GenerationMode.NEGATIVE if NEGATIVE else schemathesis.GenerationMode.POSITIVE

        @given(case=op.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        def check(case: Any) -> None:
            case.call_and_validate(base_url=base, headers=headers, checks=[not_a_server_error] if NEGATIVE else checks)

        try:
            check()
        except (Exception, BaseExceptionGroup) as exc:  # every operation's failures, reported together
            failures.append(f"{op.method.upper()} {op.path}: {str(exc)[:1500]}")
    return failures


# Some 30 s per database on an idle machine, over 120 s (the default per-test timeout) on a busy one:
# the timeout then fired inside Hypothesis, which reported it as "inconsistent results from replaying".
@pytest.mark.timeout(600)
def test_schemathesis_operator_and_tenant_admin(two_tenants, served):
    w = two_tenants
    operations = load_operations(served)
    failures = run_all(served, operations, w.tokens["admin_a"])
    failures += run_all(served, operations, w.tokens["operator"])
    assert not failures, "\n\n".join(failures)
