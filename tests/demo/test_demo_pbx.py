"""The embedded PBX the demo runs: its mailboxes are where the generated configuration puts them, an
unanswered call to a demo user leaves a message there, and the seeded messages are playable and survive a
restart of `clusterpbx run` without being left twice."""

from __future__ import annotations

import io
import wave

import pytest
from sqlalchemy import select

from clusterpbx.control.demo import DEMO_DOMAIN, seed_demo
from clusterpbx.control.models import Extension, Tenant
from clusterpbx.control.pbxnames import PbxNames
from clusterpbx.demo_runtime import DEMO_MESSAGES, demo_model, seed_voicemail
from clusterpbx.dialplan.asterisk import mailbox_ref, render_voicemail, vm_context
from clusterpbx.dialplan.from_db import node_snapshot

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def demo(db, tmp_path):
    seed_demo(db, spool_path=str(tmp_path / "spool"))
    db.commit()
    return db.scalar(select(Tenant).where(Tenant.domain == DEMO_DOMAIN))


def test_unanswered_call_lands_in_the_mailbox_the_generated_dialplan_names(demo, db, tmp_path):
    model = demo_model(db, "demo-asterisk", str(tmp_path / "spool"))
    marie = db.scalar(select(Extension).where(Extension.tenant_id == demo.id, Extension.number == "201"))
    jp = db.scalar(select(Extension).where(Extension.tenant_id == demo.id, Extension.number == "202"))
    names = PbxNames.for_tenant(db, demo)
    # The generated configuration: the box in voicemail.conf under the tenant's context, and the
    # dialplan's VoiceMail() argument for extension 201.
    snapshot = node_snapshot(db, demo.node)
    tenant = next(t for t in snapshot.tenants if t.domain == DEMO_DOMAIN)
    ref = mailbox_ref(tenant, next(e for e in tenant.extensions if e.number == "201"))
    voicemail_conf = render_voicemail(snapshot)
    context_section = voicemail_conf.split(f"[{vm_context(tenant)}]", 1)[1]
    assert f"\n{marie.mailbox} => " in context_section
    assert ref == f"{marie.mailbox}@{names.voicemail_context}" and ref in model.mailboxes

    call = model.place_call(jp.sip_username, marie.sip_username, answer=False, message_seconds=4)
    assert call.voicemail is not None
    box = model.mailboxes[ref]
    assert [m.msg_id for m in box.folder("INBOX")] == [call.voicemail.msg_id]
    # The CDR and the channel's application say what the PBX ran: VoiceMail(<box>@<tenant context>,u).
    assert any(r.lastapp == "VoiceMail" and r.lastdata == f"{ref},u" for r in call.records)
    assert (tmp_path / "spool" / "voicemail" / names.voicemail_context / marie.mailbox / "INBOX"
            / "msg0000.wav").is_file()


def test_do_not_disturb_sends_to_the_same_mailbox(demo, db, tmp_path):
    model = demo_model(db, "demo-asterisk", str(tmp_path / "spool"))
    names = PbxNames.for_tenant(db, demo)
    model.db_put("DND", names.feature_owner("201"), "YES")  # DND/demo-201: the tenant's key
    call = model.place_call("202", "201", answer=False)
    assert call.voicemail is not None and call.voicemail.context == names.voicemail_context


def test_seeded_messages_are_playable_and_left_once(demo, db, tmp_path):
    spool = str(tmp_path / "spool")
    model = demo_model(db, "demo-asterisk", spool)
    assert seed_voicemail(model, db) == len(DEMO_MESSAGES)
    names = PbxNames.for_tenant(db, demo)
    boxes_with_messages = {mb.box for mb in model.mailboxes.values()
                           if mb.folder("INBOX") or mb.folder("Old")}
    assert len(boxes_with_messages) >= 4
    marie = model.mailboxes[f"201@{names.voicemail_context}"]
    assert len(marie.folder("INBOX")) == 2 and len(marie.folder("Old")) == 1
    assert model.mailbox_counts("201", names.voicemail_context) == (0, 2, 1)
    wav = model.message_path(marie.folder("INBOX")[0]).read_bytes()
    with wave.open(io.BytesIO(wav)) as w:
        assert w.getframerate() == 8000 and w.getnframes() == 8000 * marie.folder("INBOX")[0].duration
        frames = w.readframes(w.getnframes())
    assert any(frames[i] for i in range(0, len(frames), 2)), "a playable message, not silence"

    # `clusterpbx run` again: a new PBX process reads the spool and nothing is left twice.
    again = demo_model(db, "demo-asterisk", spool)
    assert again.mailbox_counts("201", names.voicemail_context) == (0, 2, 1)
    assert seed_voicemail(again, db) == 0
    assert again.mailbox_counts("201", names.voicemail_context) == (0, 2, 1)
    # A message left after the restart is numbered after the old ones instead of overwriting msg0000.
    again.place_call("202", "201", answer=False, message_seconds=2)
    inbox = tmp_path / "spool" / "voicemail" / names.voicemail_context / "201" / "INBOX"
    assert sorted(p.name for p in inbox.glob("*.txt")) == ["msg0000.txt", "msg0001.txt", "msg0002.txt"]
    assert (inbox / "msg0000.wav").read_bytes() == wav

