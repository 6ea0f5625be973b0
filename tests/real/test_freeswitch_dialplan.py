"""Every cond() expression of the dialplan dialplan/ generates, evaluated by the real FreeSWITCH 1.10 of
the lab: none answers -ERR, whether the mod_db keys it reads are absent (a feature the daemon turned off)
or present (issue 19 item 10)."""

from __future__ import annotations

import re

import greenswitch
import pytest

from clusterpbx.dialplan.render import render_node
from tests.dialplan.sample import acme

pytestmark = pytest.mark.real


def cond_expressions(xml: str) -> list[str]:
    """Each ${cond(...)} with its nested ${...} (balanced parentheses), the XML entities undone."""
    xml = xml.replace("&gt;", ">").replace("&lt;", "<").replace("&amp;", "&")
    out = []
    for m in re.finditer(r"\$\{cond\(", xml):
        depth, i = 0, m.end() - 1  # at cond's "("
        while i < len(xml):
            depth += {"(": 1, ")": -1}.get(xml[i], 0)
            i += 1
            if depth == 0:
                break
        out.append(xml[m.start():i] + "}")
    return out


def test_no_cond_answers_err_with_keys_absent_or_present(freeswitch_lab):
    expressions = cond_expressions(render_node(acme("freeswitch"))["dialplan_clusterpbx.xml"])
    assert len(expressions) >= 7
    esl = greenswitch.InboundESL(host=freeswitch_lab["CPBX_LAB_ESL_HOST"], port=int(freeswitch_lab["CPBX_LAB_ESL_PORT"]),
                                 password=freeswitch_lab["CPBX_LAB_ESL_PASSWORD"])
    esl.connect()
    # The channel variables the dialplan sets before these (the owner, the target) as a call has them.
    expressions = [e.replace("${cpbx_owner}", "201").replace("${cpbx_target}", "201") for e in expressions]
    try:
        keys = sorted(set(re.findall(r"\$\{db\(select/([^)]+)\)\}", " ".join(expressions))))

        def evaluate(call_waiting: str) -> dict[str, str]:
            # Bracketed, so an empty answer is "[]" rather than the API's "-ERR no reply".
            return {e: esl.send(f"api eval [{e.replace('${cpbx_cw}', call_waiting)}]").data.strip()
                    for e in expressions}

        for realm_key in keys:  # absent, as after the daemon deletes a feature that is off
            esl.send(f"api db delete/{realm_key}")
        absent = evaluate("")
        for realm_key in keys:  # present: booleans "true", durations a number
            value = "25" if "time" in realm_key else "true"
            esl.send(f"api db insert/{realm_key}/{value}")
        present = evaluate("true")
        for realm_key in keys:
            esl.send(f"api db delete/{realm_key}")
    finally:
        esl.stop()
    assert not [e for e, v in absent.items() if "-ERR" in v], absent
    assert not [e for e, v in present.items() if "-ERR" in v], present

    def answer(results: dict[str, str], needle: str) -> str:
        return next(v for e, v in results.items() if needle in e)

    # Each setting gives its value when on, its default when off (absent).
    for needle, off, on in (("cfu_time", "[20]", "[25]"), ("cpbx_cw", "[1]", "[99]"),
                            ("wait_for_admin", "[]", "[wait-mod]"), ("listen_only_users", "[]", "[mute]"),
                            ("star_menu", "[none]", "[cpbx-menu]"), ("music_on_hold", "[]", "[local_stream://moh]"),
                            ("announce_count", "[cpbx]", "[cpbx-count]"), ("fm_confirm", "[]", "[1]")):
        assert (answer(absent, needle), answer(present, needle)) == (off, on), needle
