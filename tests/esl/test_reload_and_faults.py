"""Reloading the configuration also drops mod_xml_curl's cache; the sim's login fault reaches the ESL server."""

from __future__ import annotations

import socket

from clusterpbx.sim import faults
from tests.esl.conftest import adapter_for, run, settle


def test_reload_configuration_flushes_the_xml_curl_cache(raw):
    adapter = adapter_for(raw.port)

    async def go() -> None:
        await adapter.start()
        await settle(adapter)
        await adapter.reload_configuration()
        await adapter.stop()

    run(go())
    assert "api reloadxml" in raw.commands and "api xml_flush_cache" in raw.commands
    assert raw.commands.index("api xml_flush_cache") > raw.commands.index("api reloadxml")


def test_reject_logins_fault_on_the_esl_server(sim):
    faults.reject_logins(sim, True, which="esl")

    def login() -> bytes:
        with socket.create_connection(("127.0.0.1", sim.esl_port), timeout=3) as s:
            s.recv(1024)
            s.sendall(b"auth ClueCon\n\n")
            return s.recv(1024)

    assert b"-ERR invalid" in login()
    faults.reject_logins(sim, False, which="esl")
    assert b"+OK accepted" in login()
