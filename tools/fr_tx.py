"""French of the "database busy" page (web/templates/errors/busy.html, docs/transactions.md)."""

FR = {
    "The portal is busy": "Le portail est occupé",
    "The portal is very busy right now and could not finish your request in time. Nothing was lost: what you saved before is still there.":
        "Le portail est très occupé en ce moment et n'a pas pu terminer votre demande à temps. Rien n'a été perdu : "
        "ce que vous aviez enregistré auparavant est toujours là.",
    "Your last change was not saved yet. Send it again in a few seconds:":
        "Votre dernière modification n'est pas encore enregistrée. Envoyez-la de nouveau dans quelques secondes :",
    "Send again": "Envoyer de nouveau",
    "Your last change was not saved yet. Go back, type your password again and send the form in a few seconds.":
        "Votre dernière modification n'est pas encore enregistrée. Revenez en arrière, entrez de nouveau votre mot de "
        "passe et envoyez le formulaire dans quelques secondes.",
    "Your file was not saved yet. Go back and send it again in a few seconds.":
        "Votre fichier n'est pas encore enregistré. Revenez en arrière et envoyez-le de nouveau dans quelques secondes.",
    "Try again in a few seconds.": "Réessayez dans quelques secondes.",
}
