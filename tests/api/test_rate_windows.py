"""Rate limits hold over any window of their length (moving window), not per fixed window: a client
cannot spend the whole allowance at the end of one minute and again at the start of the next.

The limiter's clock is the `limiter_clock` fixture (tests/conftest.py): it moves only when a test
advances it, so these tests mean the same on an idle and on a loaded machine."""

from __future__ import annotations

from clusterpbx.web.limiter import STRATEGY, limiter
from tests.api.conftest import Api, user_token
from tests.api.test_comms import MOBILE, allow_local


def test_every_limit_uses_the_moving_window(app):
    assert STRATEGY == "moving-window"
    assert type(limiter.limiter).__name__ == "MovingWindowRateLimiter"


def test_sms_limit_holds_across_the_boundary_of_a_minute(api, db, world, limiter_clock):
    tenant = world.tenant("acme.test")
    me = world.user(tenant, email="me@acme.test", extension="201")
    allow_local(db, me)
    mine = api.as_(user_token(db, me))

    def send(n: int) -> list[int]:
        return [mine.post("/api/v1/me/sms", {"to": MOBILE, "body": f"m{i}"}).status_code for i in range(n)]

    assert send(1) == [202]           # opens what a fixed window would call "this minute"
    limiter_clock.advance(58)
    assert send(19) == [202] * 19      # the rest of the allowance, at the end of that minute
    limiter_clock.advance(3)           # 61 s after the first message: a fixed window has reset here
    # Only the first message has left the last 60 seconds, so exactly one more goes through.
    assert send(2) == [202, 429]
    limiter_clock.advance(58)          # now the 19 sent at 58 s are older than a minute
    assert send(20) == [202] * 19 + [429]


def test_refused_requests_do_not_reset_the_window(api, db, world, limiter_clock):
    tenant = world.tenant("acme.test")
    me = world.user(tenant, email="me@acme.test", extension="201")
    allow_local(db, me)
    mine = api.as_(user_token(db, me))
    codes = [mine.post("/api/v1/me/sms", {"to": MOBILE, "body": f"m{i}"}).status_code for i in range(20)]
    assert codes == [202] * 20
    for _ in range(5):
        limiter_clock.advance(10)
        assert mine.post("/api/v1/me/sms", {"to": MOBILE, "body": "again"}).status_code == 429
    limiter_clock.advance(11)  # 61 s after the twenty
    assert mine.post("/api/v1/me/sms", {"to": MOBILE, "body": "later"}).status_code == 202


def test_api_limit_is_a_moving_window_too(app, db, world, limiter_clock):
    me = world.user(world.tenant("acme.test"), email="jane@acme.test", extension="201")
    app.config["API_RATE_LIMIT"] = "3/minute"
    api = Api(app.test_client(), user_token(db, me))
    assert api.get("/api/v1/me").status_code == 200
    limiter_clock.advance(59)
    assert [api.get("/api/v1/me").status_code for _ in range(3)] == [200, 200, 429]
    limiter_clock.advance(2)  # the first request is now out of the window, the other two are not
    assert [api.get("/api/v1/me").status_code for _ in range(2)] == [200, 429]
