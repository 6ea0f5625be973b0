"""French wording of Paramètres > Paramètres avancés and Messagerie Vocale (from the guide)."""

FR = {
    "Saved. The telephone system cannot be reached right now: your change is pending and will be applied automatically as soon as it is back.":
        "Enregistré. Le système téléphonique est injoignable pour le moment : votre modification est en attente "
        "et sera appliquée automatiquement dès son retour.",
    "Saved. The telephone system did not accept the change yet: it is pending and will be applied automatically.":
        "Enregistré. Le système téléphonique n'a pas encore accepté la modification : elle est en attente et sera "
        "appliquée automatiquement.",
    "Saved and applied on the telephone system.": "Enregistré et appliqué sur le système téléphonique.",
    "Saved. It is being applied on the telephone system now.":
        "Enregistré. La modification est en cours d'application sur le système téléphonique.",
    "Delays must be between 5 and 120 seconds.": "Les délais doivent être compris entre 5 et 120 secondes.",
    "Follow me": "Me suivre",
    "Call forward (always)": "Renvoi d'appel (toujours)",
    "Call forward when busy": "Renvoi d'appel si occupé",
    "Call forward on no answer": "Renvoi d'appel sur non-réponse",
    "Delay for the devices to ring": "Délai pour que les appareils sonnent",
    "Ring time before forwarding": "Durée de sonnerie avant le renvoi",
    "Last day": "Dernier jour",
    "Notification e-mail": "Courriel de notification",
    "Delete the voicemail after notification": "Supprimer le message vocal après notification",
    "Voicemail password": "Mot de passe boîte vocale",
    "%(number)s contains characters that are not allowed.": "%(number)s contient des caractères non permis.",
    "%(number)s is not a valid phone number.": "%(number)s n'est pas un numéro de téléphone valide.",
    "%(number)s is outside your company: your allowed destinations are internal calls only.":
        "%(number)s est à l'extérieur de votre entreprise : vos destinations possibles se limitent aux appels "
        "internes.",
    "%(number)s is not in your allowed destinations: %(rule)s.":
        "%(number)s ne fait pas partie de vos destinations possibles : %(rule)s.",
    "At most 10 numbers.": "10 numéros au maximum.",
    "Enter at least one number to turn follow me on.": "Entrez au moins un numéro pour activer « me suivre ».",
    "Choose Français (fr) or English (en).": "Choisissez Français (fr) ou English (en).",
    "The last day cannot be before the start.": "Le dernier jour ne peut pas précéder le début.",
    "This e-mail address is not valid.": "Cette adresse courriel n'est pas valide.",
    "Deleting after notification needs the e-mail notification turned on.":
        "La suppression après notification exige que la notification par courriel soit activée.",
    "The PIN and its confirmation do not match.": "Le NIP et sa confirmation ne correspondent pas.",
    "The PIN must contain digits only.": "Le NIP doit contenir uniquement des chiffres.",
    "The PIN must contain between %(min)s and %(max)s digits.": "Le NIP doit contenir entre %(min)s et %(max)s chiffres.",
    "This PIN is too easy to guess (same digit repeated, or your extension).":
        "Ce NIP est trop facile à deviner (même chiffre répété, ou votre numéro de poste).",
    "This value cannot be used.": "Cette valeur ne peut pas être utilisée.",
    "Applied": "Appliqué",
    "Pending": "En attente",
    "Call settings": "Paramètres d'appel",
    "Feature": "Fonctionnalité",
    "Value": "Valeur",
    "Call waiting": "Appel en attente",
    "Yes": "Oui",
    "No": "Non",
    "Do not disturb": "Ne pas déranger",
    "Call forward": "Renvoi d'appel",
    'Settings of the "follow me" feature': 'Paramètre de la fonctionnalité "me suivre"',
    "Follow me: incoming calls to your extension are also sent to these numbers.":
        "Me suivre : les appels entrants à votre poste seront également envoyés à ces numéros.",
    "Numbers (one per line)": "Numéros (un par ligne)",
    "Press 1 to accept the call:": "Appuyez sur 1 pour accepter l'appel:",
    "Delay (seconds):": "Délai (secondes):",
    "Call forward: incoming calls are redirected to another phone number.":
        "Renvoi d'appel : les appels entrants sont redirigés vers un autre numéro de téléphone.",
    "Always": "Toujours",
    "When busy": "Si occupé",
    "On no answer": "Sur non-réponse",
    "Ring time before forwarding (seconds):": "Durée de sonnerie avant le renvoi (secondes):",
    "Property": "Propriété",
    "Allowed destinations": "Destinations possibles",
    "Allowed destinations are assigned by your telephony administrator: the destinations (prefixes) you may call.":
        "Les « Destinations possibles » sont assignées par votre administrateur de téléphonie. Il s'agit des "
        "destinations (préfixes) que vous êtes autorisé à appeler.",
    "More info": "Plus d'infos",
    "Internal calls only.": "Appels internes seulement.",
    "Dates must be written as YYYY-MM-DD.": "Les dates doivent être écrites sous la forme AAAA-MM-JJ.",
    "Automatic out-of-office reply": "Réponse automatique d'absence",
    "This option lets you schedule an automatic out-of-office reply.":
        "Cette option vous permet de programmer une réponse automatique d'absence.",
    "Leave the start date empty and the reply is active at once.":
        "Laissez le champ de date de début vide et la réponse sera active immédiatement.",
    "How does it work?": "Comment ça fonctionne?",
    "By default, an audio message quoting your extension number (%(ext)s) is played.":
        "Par défaut, un message audio citant votre numéro de poste (%(ext)s) sera joué.",
    "You can record your name so that it is played in the message instead of the extension number.":
        "Vous pouvez enregistrer votre nom pour qu'il soit joué dans le message audio au lieu du numéro de poste.",
    "You can also record a custom message: dial *97 to reach your recorded messages.":
        "Vous pouvez également enregistrer un message personnalisé. Pour cela, composez *97 pour joindre un "
        "message enregistré.",
    "Turn on the automatic out-of-office reply": "Activer la réponse automatique d'absence",
    "Start:": "Début:",
    "Last day:": "Dernier jour:",
    "Your out-of-office reply is active now.": "Votre réponse d'absence est active en ce moment.",
    "E-mail notification": "Notification E-mail",
    "You can receive your voice messages by e-mail, and choose to delete them from the system or keep them.":
        "Vous pouvez choisir de recevoir vos messages vocaux par courriel. Vous avez le choix de les supprimer du "
        "système ou de les y laisser.",
    "Turn on the notification:": "Activer la notification:",
    "Use the login e-mail (%(email)s):": "Utiliser l'email de login (%(email)s):",
    "Notification e-mail:": "Courriel de notification:",
    "Attach the audio file": "Joindre le fichier audio",
    "Delete the voicemail after notification:": "Supprimer le message vocal après notification:",
    "This password gives you access to your voicemail box from a phone.":
        "Ce mot de passe vous permet d'accéder à votre boîte vocale.",
    "Digits only": "Chiffres uniquement",
    "New PIN:": "Nouveau NIP:",
    "Confirm PIN:": "Confirmer NIP:",
}
