"""French wording of the portal's layout (narrow screens), the call screens' and forms' fixes (issue 25)."""

FR = {
    "Enter your e-mail address.": "Entrez votre adresse courriel.",
    "This absence is already over: choose a last day from today on, or turn the out-of-office message off.":
        "Cette absence est déjà terminée : choisissez un dernier jour à partir d'aujourd'hui, ou désactivez le "
        "message d'absence.",
    "%(number)s is your own extension: calls would come back to you in a loop.":
        "%(number)s est votre propre poste : les appels vous reviendraient en boucle.",
    "The start date (%(start)s) is after the end date (%(end)s): no call can match. Swap the two dates.":
        "La date de début (%(start)s) est après la date de fin (%(end)s) : aucun appel ne peut correspondre. "
        "Inversez les deux dates.",
    "Missed calls only": "Appels manqués seulement",
    "Last 31 days.": "31 derniers jours.",
    "Menu": "Menu",
    "Join the queue": "Se connecter à la file",
    "Leave the queue": "Se déconnecter de la file",
    "The file is too large (%(mb)d MB at most). Nothing was saved: choose a smaller file.":
        "Le fichier est trop volumineux (%(mb)d Mo au maximum). Rien n'a été enregistré : choisissez un fichier "
        "plus petit.",
}
