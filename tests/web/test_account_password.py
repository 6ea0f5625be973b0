"""Paramètres > Compte: every rule of the tenant's password policy, accepted and refused."""

from __future__ import annotations

import pytest

from clusterpbx.control.passwords import PasswordPolicy, verify_password
from tests.conftest import PASSWORD

# (policy overrides, password, accepted?)
CASES = [
    ({}, "Abcdefg1", True),
    ({}, "Abc1", False),  # too short
    ({"pw_max_length": 10}, "Abcdefghij1", False),  # too long
    ({"pw_max_length": 10}, "Abcdefgh1", True),
    ({}, "", False),  # empty refused by default
    ({"pw_may_be_empty": True}, "", True),
    ({"pw_numeric_only": True, "pw_require_upper": False}, "12345678", True),
    ({"pw_numeric_only": True, "pw_require_upper": False}, "1234567a", False),
    ({}, "Abcdefgh", False),  # no digit
    ({"pw_require_digit": False}, "Abcdefgh", True),
    ({"pw_require_lower": True}, "ABCDEFG1", False),
    ({"pw_require_lower": True}, "ABCDEFg1", True),
    ({}, "abcdefg1", False),  # no uppercase
    ({"pw_require_upper": False}, "abcdefg1", True),
    ({"pw_require_special": True}, "Abcdefg1", False),
    ({"pw_require_special": True}, "Abcdef-g1", True),
    ({}, "Abcdefg1\n", False),  # control characters never
]


@pytest.mark.parametrize(("policy", "password", "accepted"), CASES)
def test_policy_rules(client, auth, world, db, policy, password, accepted):
    tenant = world.tenant(**policy)
    user = world.user(tenant)
    auth.login(user.email)
    token = auth.csrf("/settings/account")
    resp = client.post("/settings/account", data={"csrf_token": token, "current_password": PASSWORD,
                                                 "new_password": password, "confirm_password": password})
    db.refresh(user)
    assert verify_password(user.password_hash, password) is accepted
    assert resp.status_code == (302 if accepted else 400)


def test_page_lists_the_active_rules_like_the_guide(client, auth, world):
    tenant = world.tenant(pw_min_length=8, pw_max_length=20, pw_may_be_empty=True, pw_require_upper=True,
                          pw_require_lower=False)
    auth.login(world.user(tenant).email)
    html = client.get("/settings/account").get_data(as_text=True)
    for line in ("Doit contenir entre 8 et 20 caractères.",
                 "Le mot de passe peut être vide: oui",
                 "Le mot de passe doit être numérique: non",
                 "Le mot de passe doit contenir un caractère numérique: oui",
                 "Le mot de passe doit contenir une minuscule: non",
                 "Le mot de passe doit contenir une majuscule: oui",
                 "Le mot de passe doit contenir un caractère spécial: non",
                 "Mot de passe actuel:", "Nouveau mot de passe:", "Confirmer mot de passe:"):
        assert line in html, line


def test_wrong_current_password_refused(client, auth, world, db):
    user = world.user(world.tenant())
    auth.login(user.email)
    token = auth.csrf("/settings/account")
    resp = client.post("/settings/account", data={"csrf_token": token, "current_password": "wrong",
                                                 "new_password": "Newpass-12", "confirm_password": "Newpass-12"})
    assert resp.status_code == 400
    assert "Le mot de passe actuel est incorrect." in resp.get_data(as_text=True)
    db.refresh(user)
    assert verify_password(user.password_hash, PASSWORD)


def test_confirmation_must_match(client, auth, world, db):
    user = world.user(world.tenant())
    auth.login(user.email)
    token = auth.csrf("/settings/account")
    resp = client.post("/settings/account", data={"csrf_token": token, "current_password": PASSWORD,
                                                 "new_password": "Newpass-12", "confirm_password": "Newpass-13"})
    assert resp.status_code == 400
    assert "ne correspondent pas" in resp.get_data(as_text=True)
    db.refresh(user)
    assert verify_password(user.password_hash, PASSWORD)


def test_new_password_works_for_login(client, auth, world):
    user = world.user(world.tenant())
    auth.login(user.email)
    token = auth.csrf("/settings/account")
    client.post("/settings/account", data={"csrf_token": token, "current_password": PASSWORD,
                                          "new_password": "Newpass-12", "confirm_password": "Newpass-12"})
    auth.logout()
    assert auth.login(user.email, PASSWORD).status_code == 401
    assert auth.login(user.email, "Newpass-12").status_code == 302


def test_policy_violation_codes_unit():
    p = PasswordPolicy(min_length=8, max_length=20, require_digit=True, require_upper=True, require_lower=True,
                       require_special=True)
    assert set(p.violations("abc")) == {"length", "digit", "upper", "special"}
    assert p.violations("Abcdef1!") == []
