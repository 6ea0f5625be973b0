"""French of the demo's own wording (`clusterpbx run`: the Gmail button when it signs in against the demo's
local OpenID provider instead of Google)."""

FR = {
    "Log in with Gmail (demo: local provider)": "Connexion avec Gmail (démo : fournisseur local)",
}
