"""The demo with its PBX, as `clusterpbx run` assembles it (real control daemon, embedded PBX on
loopback): the seeded voice messages are listed and played in "Messagerie vocale" and lit on the home
page, and the queues' agents show in every state in "Mes files d'attente"."""

from __future__ import annotations

import io
import re
import wave

import pytest
from sqlalchemy import select

from clusterpbx.control.demo import DEMO_DOMAIN, DEMO_PASSWORD, seed_demo, seed_lived_in
from clusterpbx.control.models import MailboxState, QueueMemberState, Tenant
from clusterpbx.demo_runtime import announce_voicemail_when_connected, demo_model, seed_voicemail
from tests.demo.conftest import page
from tests.demo_stack import demo_stack, wait

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _lived_in(db):
    seed_lived_in(db, db.scalar(select(Tenant).where(Tenant.domain == DEMO_DOMAIN)))


@pytest.fixture
def stack(app, engine, db, tmp_path):
    # What `clusterpbx run` does before the PBX serves: the demo's messages left through the PBX's own
    # path into its spool, which the started PBX reads (as after a restart: no event announced them).
    spool = str(tmp_path / "spool")
    seed_demo(db, spool_path=spool)
    assert seed_voicemail(demo_model(db, "demo-asterisk", spool), db) > 0
    db.commit()
    with demo_stack(app, engine, db, tmp_path, prepare=_lived_in) as (sim, daemon, _on_loop):
        # ... and once the daemon is connected, the voicemail reload that announces every mailbox's counts.
        announce_voicemail_when_connected(sim, daemon).join(30)
        yield sim, daemon


def test_voice_messages_listed_playable_and_counted_on_home(stack, client, auth, db):
    wait(lambda: (db.expire_all(), db.scalar(select(MailboxState.new_messages)
                                             .where(MailboxState.mailbox.startswith("201@"))))[1] == 2,
         what="Marie's message-waiting counts projected")
    auth.login("marie.tremblay@demo.clusterpbx.test", DEMO_PASSWORD)
    home = page(client.get("/home"))
    assert re.search(r"<strong>2</strong>\s*nouveaux messages vocaux", home), home
    html = page(client.get("/voicemail/"))
    ids = re.findall(r'/voicemail/([^/"]+)/audio', html)
    assert len(set(ids)) == 3, html  # two new, one heard
    assert "JP Vallée" in html and "Groupe Dupuis" in html
    audio = client.get(f"/voicemail/{ids[0]}/audio")
    assert audio.status_code == 200 and audio.mimetype == "audio/wav"
    with wave.open(io.BytesIO(audio.data)) as w:
        frames = w.readframes(w.getnframes())
    assert w.getnframes() > 8000 and any(frames[1::2]), "a recording that plays something"
    # Another demo user has their own messages, and does not see Marie's.
    auth.logout()
    auth.login("emma.wilson@demo.clusterpbx.test", DEMO_PASSWORD)
    emma = page(client.get("/voicemail/"))
    assert "Transport Lévesque" in emma and "Groupe Dupuis" not in emma


def test_queue_agents_in_every_state(stack, client, auth, db):
    def projected():
        db.expire_all()
        return {(s.queue, s.interface): (s.logged_in, s.paused, s.pause_reason)
                for s in db.scalars(select(QueueMemberState))}

    wait(lambda: len(projected()) >= 6, what="queue members projected")
    states = projected()
    assert ("cpbx-demo-support", "Local/203@cpbx-demo-leg/n") in states
    assert states[("cpbx-demo-support", "Local/203@cpbx-demo-leg/n")] == (True, True, "Pause café")
    assert states[("cpbx-demo-support", "Local/202@cpbx-demo-leg/n")] == (True, False, "")
    # Sophie (208) is an agent of Soutien but logged out: no member on the PBX.
    assert ("cpbx-demo-support", "Local/208@cpbx-demo-leg/n") not in states
    auth.login("admin@demo.clusterpbx.test", DEMO_PASSWORD)  # agent of both queues
    html = page(client.get("/queues/"))
    assert "Connecté" in html and "Hors-ligne" in html
    auth.logout()
    auth.login("mamadou.kone@demo.clusterpbx.test", DEMO_PASSWORD)
    assert "En pause (Pause café)" in page(client.get("/queues/"))
    auth.logout()
    auth.login("sophie.bouchard@demo.clusterpbx.test", DEMO_PASSWORD)
    assert "Hors-ligne" in page(client.get("/queues/"))
