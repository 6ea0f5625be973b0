"""tests/conftest.py compiles each Werkzeug URL builder once per process (every test builds its own app):
the same rule in two apps shares its compiled builder, and a rule whose defaults differ gets its own,
so URLs are built exactly as without the cache."""

from __future__ import annotations

from flask import Flask, url_for


def _app(default_page: int) -> Flask:
    app = Flask(__name__)
    def view(**kwargs: object) -> str:
        return ""

    app.add_url_rule("/calls/<int:page>", "calls", view)
    app.add_url_rule("/list/<int:page>", "listing", view, defaults={"page": default_page})
    app.add_url_rule("/list/<int:page>/<name>", "listing", view)
    return app


def _builder(app: Flask, endpoint: str) -> object:
    return app.url_map._rules_by_endpoint[endpoint][0]._build.__func__


def test_the_same_rule_in_two_apps_shares_one_compiled_builder() -> None:
    first, second = _app(1), _app(1)
    assert _builder(first, "calls") is _builder(second, "calls")
    for app in (first, second):
        with app.test_request_context():
            assert url_for("calls", page=7) == "/calls/7"
            assert url_for("calls", page=7, q="a b") == "/calls/7?q=a+b"


def test_a_rule_with_other_defaults_builds_its_own_urls() -> None:
    one, two = _app(1), _app(2)
    assert _builder(one, "listing") is not _builder(two, "listing")
    with one.test_request_context():
        assert url_for("listing") == "/list/1"
        assert url_for("listing", page=3, name="x") == "/list/3/x"
    with two.test_request_context():
        assert url_for("listing") == "/list/2"
