"""French wording of the SMS screen (the guide's: "Composez un SMS", "Téléphone:", "Message:",
"Fichier (MMS):", "Envoyer", and its one-way warning)."""

FR = {
    "Compose an SMS": "Composez un SMS",
    "The SMS screen lets you send text messages to mobile phones. Beware: this is a one-way feature, the "
    "recipient cannot reply.":
        "L'écran «SMS» vous permet d'envoyer des messages textes à des cellulaires. Attention, il s'agit d'une "
        "fonction à sens unique, le destinataire ne peut répondre.",
    "Phone:": "Téléphone:",
    "Message:": "Message:",
    "File (MMS):": "Fichier (MMS):",
    "Send": "Envoyer",
    "Optional. PNG, JPEG, GIF or WebP, 5 MB at most.": "Facultatif. PNG, JPEG, GIF ou WebP, 5 Mo au plus.",
    "%(chars)s characters · %(parts)s SMS (GSM-7, %(per)s characters per SMS)":
        "%(chars)s caractères · %(parts)s SMS (GSM-7, %(per)s caractères par SMS)",
    "%(chars)s characters · %(parts)s SMS (Unicode UCS-2, %(per)s characters per SMS)":
        "%(chars)s caractères · %(parts)s SMS (Unicode UCS-2, %(per)s caractères par SMS)",
    "Messages sent by your company this month: %(used)s of %(quota)s.":
        "Messages envoyés par votre entreprise ce mois-ci : %(used)s sur %(quota)s.",
    "Messages sent": "Messages envoyés",
    "You have not sent any message yet.": "Vous n'avez encore envoyé aucun message.",
    "Phone": "Téléphone",
    "Message": "Message",
    "(image)": "(image)",
    "Queued": "En attente",
    "Sent": "Envoyé",
    "Delivered": "Livré",
    "Failed": "Échec",
    "Status": "État",
    "Date": "Date",
    "Sending SMS is not enabled for your company: ask your telephony administrator.":
        "L'envoi de SMS n'est pas activé pour votre entreprise : demandez-le à votre administrateur de téléphonie.",
    "The message contains characters that are not allowed.":
        "Le message contient des caractères qui ne sont pas permis.",
    "The phone number contains characters that are not allowed.":
        "Le numéro de téléphone contient des caractères qui ne sont pas permis.",
    "The message is too long (%(max)s characters at most).":
        "Le message est trop long (%(max)s caractères au plus).",
    "Enter the phone number to send to.": "Entrez le numéro de téléphone du destinataire.",
    "%(number)s is not a valid phone number.": "%(number)s n'est pas un numéro de téléphone valide.",
    "%(number)s is a premium-rate number: messages cannot be sent to it.":
        "%(number)s est un numéro surtaxé : on ne peut pas y envoyer de messages.",
    "You have no extension to send from: ask your telephony administrator.":
        "Vous n'avez pas de poste d'où envoyer : demandez-en un à votre administrateur de téléphonie.",
    "Your company's SMS service cannot send images (MMS): send the text only.":
        "Le service SMS de votre entreprise ne peut pas envoyer d'images (MMS) : envoyez le texte seulement.",
    "Write a message (or choose an image).": "Écrivez un message (ou choisissez une image).",
    "Your company has reached its quota of %(quota)s messages this month: no more can be sent until next month.":
        "Votre entreprise a atteint son quota de %(quota)s messages ce mois-ci : aucun autre ne peut être envoyé "
        "avant le mois prochain.",
    "This message cannot be sent.": "Ce message ne peut pas être envoyé.",
    "The image file is empty.": "Le fichier image est vide.",
    "The image is too large (5 MB at most).": "L'image est trop volumineuse (5 Mo au plus).",
    "The form expired: please try again.": "Le formulaire a expiré : veuillez réessayer.",
    "Message sent to %(number)s.": "Message envoyé au %(number)s.",
    "The message to %(number)s could not be sent: %(error)s":
        "Le message au %(number)s n'a pas pu être envoyé : %(error)s",
    "The message is saved but not sent yet: the telephone system does not answer right now. It will be sent "
    "automatically as soon as it does.":
        "Le message est enregistré mais pas encore envoyé : le système téléphonique ne répond pas pour le moment. "
        "Il sera envoyé automatiquement dès qu'il répondra.",
    "Choose an image": "Choisir une image",
    "No image chosen": "Aucune image choisie",
}
