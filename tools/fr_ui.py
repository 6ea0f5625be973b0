"""French wording of the portal's layout (narrow screens), the call screens' and forms' fixes (issue 25)."""

FR = {
    "Enter your e-mail address.": "Entrez votre adresse courriel.",
    "This absence is already over: choose a last day from today on, or turn the out-of-office message off.":
        "Cette absence est déjà terminée : choisissez un dernier jour à partir d'aujourd'hui, ou désactivez le "
        "message d'absence.",
    "%(number)s is your own extension: calls would come back to you in a loop.":
        "%(number)s est votre propre poste : les appels vous reviendraient en boucle.",
}
