"""Messagerie vocale through the control daemon: only the owner's messages, whatever ids a URL is
given; delete refreshes the message-waiting light; several messages download as a zip."""

from __future__ import annotations

import datetime as dt
import html as htmllib
import io
import zipfile

import pytest

from clusterpbx.control.models import NodeKind, PbxNode
from clusterpbx.control.port import MailboxFolder, VoicemailMessage
from tests.daemon_harness import daemon_for_app
from tests.fakes import FakePbx

MINE, THEIRS = "201@cpbx-acme", "202@cpbx-acme"


def msg(mid, box, folder=MailboxFolder.INBOX, caller='"Test Modulis" <55555>', minute=0, seconds=9):
    return VoicemailMessage(mid, box, folder, caller, dt.datetime(2026, 5, 15, 15, 45 + minute), seconds)


@pytest.fixture
def setup(app, engine, db, world):
    node = PbxNode(name="n1", kind=NodeKind.ASTERISK, host="127.0.0.1", port=5038)
    db.add(node)
    db.flush()
    tenant = world.tenant(timezone="America/Montreal")
    tenant.node_id = node.id
    db.commit()
    me = world.user(tenant, extension="201")
    other = world.user(tenant, extension="202")
    fake = FakePbx()
    # The daemon names mailboxes as the generated voicemail.conf does: box@cpbx-<tenant slug>.
    fake.mailboxes[MINE] = [msg("a1", MINE), msg("a2", MINE, MailboxFolder.OLD, '"JP Vallée" <219>', 1, 12),
                            msg("a3", MINE, caller='"<script>x</script>" <0000>', minute=2, seconds=26)]
    fake.mailboxes[THEIRS] = [msg("b1", THEIRS, caller="Secret")]
    for mid in ("a1", "a2", "a3", "b1"):
        fake.audio[mid] = b"RIFF" + mid.encode() + b"WAVE"
    with daemon_for_app(app, engine, fake):
        yield fake, me, other


def page(resp):
    return htmllib.unescape(resp.get_data(as_text=True))


def test_list_matches_guide(client, auth, setup):
    fake, me, _other = setup
    auth.login(me.email)
    raw = client.get("/voicemail/").get_data(as_text=True)
    html = htmllib.unescape(raw)
    for text in ("Date", "Appelant", "Durée (h-m-s)", "Supprimer Message vocal", "Télécharger Message vocal",
                 '"Test Modulis" <55555>', "00:00:09", "00:00:26", "2026-05-15 11:45:00", "Nouveau"):
        assert text in html, text
    assert "Secret" not in html
    assert "<script>x</script>" not in raw


def test_other_users_message_unreachable(client, auth, setup):
    fake, me, _other = setup
    auth.login(me.email)
    assert client.get("/voicemail/a1/audio").data == b"RIFFa1WAVE"
    assert client.get("/voicemail/b1/audio").status_code == 404
    token = auth.csrf("/voicemail/")
    client.post("/voicemail/action", data={"csrf_token": token, "action": "delete", "message": ["b1"]})
    assert [m.message_id for m in fake.mailboxes[THEIRS]] == ["b1"]


def test_delete_updates_mwi(client, auth, setup):
    fake, me, _other = setup
    auth.login(me.email)
    token = auth.csrf("/voicemail/")
    resp = client.post("/voicemail/action", data={"csrf_token": token, "action": "delete",
                                                  "message": ["a1", "a3"]}, follow_redirects=True)
    assert "2 message(s) supprimé(s)" in page(resp)
    assert [m.message_id for m in fake.mailboxes[MINE]] == ["a2"]
    assert fake.refreshed == [MINE]


def test_download_several_as_zip_and_one_as_wav(client, auth, setup):
    fake, me, _other = setup
    auth.login(me.email)
    token = auth.csrf("/voicemail/")
    resp = client.post("/voicemail/action", data={"csrf_token": token, "action": "download",
                                                  "message": ["a1", "a2"]})
    assert resp.mimetype == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(resp.data)).namelist()
    assert names == ["voicemail-001.wav", "voicemail-002.wav"]
    one = client.post("/voicemail/action", data={"csrf_token": token, "action": "download", "message": ["a1"]},
                      follow_redirects=True)
    assert one.data == b"RIFFa1WAVE" and "attachment" in one.headers["Content-Disposition"]


def test_mark_heard_moves_to_old(client, auth, setup):
    fake, me, _other = setup
    auth.login(me.email)
    token = auth.csrf("/voicemail/")
    client.post("/voicemail/action", data={"csrf_token": token, "action": "heard", "message": ["a1"]})
    assert {m.message_id: m.folder for m in fake.mailboxes[MINE]}["a1"] is MailboxFolder.OLD


def test_daemon_down_says_so(client, auth, world):
    auth.login(world.user(world.tenant(), extension="201").email)
    assert "injoignable" in page(client.get("/voicemail/"))
