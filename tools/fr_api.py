"""French wording of the "API tokens" page (the REST API itself answers in English)."""

FR = {
    "API tokens": "Jetons d'API",
    "A token lets a script or another application use the ClusterPBX API as you: send it in the header "
    "Authorization: Bearer followed by the token. Keep it secret; revoke it as soon as it is no longer needed.":
        "Un jeton permet à un script ou à une autre application d'utiliser l'API de ClusterPBX en votre nom : "
        "envoyez-le dans l'en-tête Authorization: Bearer suivi du jeton. Gardez-le secret et révoquez-le dès "
        "qu'il ne sert plus.",
    "Your new token": "Votre nouveau jeton",
    "Copy it now: it will not be shown again.": "Copiez-le maintenant : il ne sera plus affiché.",
    "Create a token": "Créer un jeton",
    "Expires": "Expiration",
    "Create": "Créer",
    "My tokens": "Mes jetons",
    "You have no API token.": "Vous n'avez aucun jeton d'API.",
    "Token": "Jeton",
    "Last used": "Dernière utilisation",
    "Never": "Jamais",
    "Revoked": "Révoqué",
    "Expired": "Expiré",
    "Revoke": "Révoquer",
    "In 30 days": "Dans 30 jours",
    "In 90 days": "Dans 90 jours",
    "In one year": "Dans un an",
    "Give the token a name.": "Donnez un nom au jeton.",
    "The name must be at most 80 printable characters.": "Le nom doit compter au plus 80 caractères imprimables.",
    "You have too many tokens; revoke one first.": "Vous avez trop de jetons ; révoquez-en un d'abord.",
    "Token created.": "Jeton créé.",
    "Token revoked.": "Jeton révoqué.",
}
