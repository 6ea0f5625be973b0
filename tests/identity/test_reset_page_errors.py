"""The reset page says each broken rule once, each in its own element: the errors are listed apart and
the full list of restrictions folds away while they show."""

from __future__ import annotations

import re
from typing import Any

from tests.identity.conftest import link_in
from tests.identity.test_reset import choose, forgot, local


def test_reset_errors_are_listed_apart_and_not_repeated(client: Any, smtp: Any, world: Any) -> None:
    user = world.user(world.tenant("acme.test"), email="marie@acme.test")
    forgot(client, user.email)
    link = link_in(smtp.wait(1)[0], "/password/reset/")
    assert "<details" not in client.get(local(link)).get_data(as_text=True)  # no error: the rules in full view
    html = choose(client, link, "faible").get_data(as_text=True)
    alert = html.split('role="alert"', 1)[1].split("</div>", 1)[0]
    items = [re.sub(r"\s+", " ", i).strip() for i in re.findall(r"<li>(.*?)</li>", alert, re.S)]
    assert len(items) == 3 and "Le mot de passe doit contenir entre 8 et 64 caractères." in items
    # textContent keeps the messages apart ("caractères.Le mot" was one word to a reader).
    assert not re.search(r"\.\S", re.sub(r"<[^>]+>", "", alert).replace("...", ""))
    # The rules are folded away while the errors show, so no sentence is on screen twice.
    before_details, details = html.split("<details", 1)
    assert "Doit contenir entre 8 et 64 caractères." in details
    assert "Doit contenir entre 8 et 64 caractères." not in before_details
