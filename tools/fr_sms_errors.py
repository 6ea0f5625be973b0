"""French wording of why an SMS failed and of each path's length limit (issue 22 item 9)."""

FR = {
    "The message is too long for your company's SMS service: %(max)s characters at most, and accented letters, "
    "symbols and emoji count as two or more.":
        "Le message est trop long pour le service SMS de votre entreprise : %(max)s caractères au plus, et les "
        "lettres accentuées, symboles et émojis comptent pour deux ou plus.",
    "Too long: %(max)s characters at most.": "Trop long : %(max)s caractères au plus.",
    "Your company's SMS service is not set up correctly: ask your telephony administrator.":
        "Le service SMS de votre entreprise n'est pas configuré correctement : adressez-vous à votre "
        "administrateur de téléphonie.",
    "The telephone system refused the message.": "Le système téléphonique a refusé le message.",
    "The SMS service cannot be reached right now.": "Le service SMS est injoignable pour le moment.",
    "The SMS service did not answer in time.": "Le service SMS n'a pas répondu à temps.",
    "The SMS service refused the message.": "Le service SMS a refusé le message.",
    "The message is too long for the SMS service.": "Le message est trop long pour le service SMS.",
    "The SMS service says this number is not valid.": "Selon le service SMS, ce numéro n'est pas valide.",
    "The SMS service cannot send messages to this country or network.":
        "Le service SMS ne peut pas envoyer de messages vers ce pays ou ce réseau.",
    "The recipient has blocked messages from this number.": "Le destinataire a bloqué les messages de ce numéro.",
    "The recipient's phone could not be reached (switched off or out of coverage).":
        "Le téléphone du destinataire est injoignable (éteint ou hors couverture).",
    "This number is a landline: it cannot receive text messages.":
        "Ce numéro est une ligne fixe : il ne peut pas recevoir de textos.",
    "The recipient's carrier filtered the message.": "L'opérateur du destinataire a filtré le message.",
    "The message could not be delivered to the recipient.": "Le message n'a pas pu être remis au destinataire.",
    "The message could not be sent within 24 hours and was abandoned.":
        "Le message n'a pas pu être envoyé en 24 heures et a été abandonné.",
    "The message could not be sent.": "Le message n'a pas pu être envoyé.",
}
