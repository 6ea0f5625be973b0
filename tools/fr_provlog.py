"""French wording of the provisioning log screen (issue 22 item 5) and the dial-path refusals."""

FR = {
    "Provisioning log": "Journal du provisionnement",
    "Every request made to the provisioning address, newest first (times in %(zone)s).":
        "Chaque requête reçue à l'adresse de provisionnement, la plus récente d'abord (heures en %(zone)s).",
    "Outcome": "Résultat",
    "Client address": "Adresse du client",
    "This is not a MAC address (12 hexadecimal digits).": "Ce n'est pas une adresse MAC (12 chiffres hexadécimaux).",
    "%(num)d request": ("%(num)d requête", "%(num)d requêtes"),
    "HTTP": "Code HTTP",
    "File": "Fichier",
    "Time": "Heure",
    "No request matches these filters.": "Aucune requête ne correspond à ces filtres.",
    "Configuration served": "Configuration envoyée",
    "Credentials asked (normal)": "Identifiants demandés (normal)",
    "Credentials expired, asked again (normal)": "Identifiants expirés, redemandés (normal)",
    "Wrong credentials": "Identifiants erronés",
    "Unknown MAC address": "Adresse MAC inconnue",
    "Unknown file for this phone": "Fichier inconnu pour ce téléphone",
    "Wrong provisioning key": "Clé de provisionnement erronée",
    "Address outside the allowed networks": "Adresse hors des réseaux autorisés",
    "Invalid file name": "Nom de fichier invalide",
    "Invalid or used softphone link": "Lien de softphone invalide ou déjà utilisé",
    "Softphone user without extension": "Utilisateur de softphone sans poste",
    "Too many failures (throttled)": "Trop d'échecs (ralenti)",
    "Error": "Erreur",
}
FR["Number to call"] = "Numéro à appeler"
