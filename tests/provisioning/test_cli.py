"""`clusterpbx provision render|fetches|credentials|reopen`."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from clusterpbx.control.models import ProvisioningFetch
from clusterpbx.provisioning.cli import provision
from tests.provisioning.helpers import phone_setup


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_render_and_fetches(db, world, database_url, monkeypatch, tmp_path):
    monkeypatch.setenv("CLUSTERPBX_DATABASE_URL", database_url)
    monkeypatch.setenv("CLUSTERPBX_INSTANCE", str(tmp_path / "instance"))
    _tenant, _user, device = phone_setup(world, db, vendor="snom", model="D785")
    db.add(ProvisioningFetch(device_id=device.id, mac=device.mac, address="10.0.0.5", path="x.htm", result=200,
                             outcome="served"))
    db.add(ProvisioningFetch(device_id=device.id, mac=device.mac, address="10.0.0.6", path="y.htm", result=401,
                             outcome="bad_credentials"))
    db.commit()
    runner = CliRunner()
    out = runner.invoke(provision, ["render", "--mac", "00:15:65:1A:2B:3C"])
    assert out.exit_code == 0, out.output
    assert "===== snomD785-0015651A2B3C.htm" in out.output and "blf sip:219@acme.test|**" in out.output
    out = runner.invoke(provision, ["fetches", "--mac", "0015651a2b3c"])
    assert out.exit_code == 0 and "10.0.0.5" in out.output and " 200  served " in out.output
    assert "x.htm" in out.output
    refused = runner.invoke(provision, ["fetches", "--outcome", "bad_credentials"])
    assert refused.exit_code == 0 and "10.0.0.6" in refused.output and "10.0.0.5" not in refused.output
    out = runner.invoke(provision, ["credentials", "--mac", "0015651a2b3c"])
    db.refresh(device)
    assert f"password: {device.prov_password}" in out.output
    assert runner.invoke(provision, ["render", "--mac", "nope"]).exit_code != 0
    assert runner.invoke(provision, ["reopen", "--mac", "0015651a2b3c"]).exit_code == 0
