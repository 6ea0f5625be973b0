"""French wording of the outbound URL policy's refusals (control/urlpolicy.py, tenant provider settings),
merged into the catalog by tools/translations_fr.py."""

from __future__ import annotations

FR = {
    "Provider addresses must start with https:// (http:// only where the operator's configuration allows it).":
        "Les adresses des fournisseurs doivent commencer par https:// (http:// seulement là où la configuration "
        "de l'opérateur le permet).",
    "Do not put a user name or password in a provider address; use the settings meant for them.":
        "Ne mettez ni nom d'utilisateur ni mot de passe dans l'adresse d'un fournisseur; utilisez les paramètres "
        "prévus à cet effet.",
    "Provider addresses must be on the internet: loopback, link-local and private addresses are refused unless "
    "the operator's configuration allows them.":
        "Les adresses des fournisseurs doivent être sur Internet : les adresses de bouclage, locales au lien et "
        "privées sont refusées, sauf si la configuration de l'opérateur les permet.",
    "Enter a valid provider address such as https://api.example.com.":
        "Saisissez une adresse de fournisseur valide, par exemple https://api.example.com.",
}
