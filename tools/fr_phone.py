"""French wording of Mon téléphone and Mon softphone (from the guide where the guide has it)."""

FR = {
    # Mon téléphone
    "Main line": "Ligne principale",
    "Secondary line": "Ligne secondaire",
    "Presence / pickup": "Présence / Décrocher",
    "Speed dial": "Appel rapide",
    "Button #%(n)d": "Bouton #%(n)d",
    "Button #": "Bouton #",
    "Action": "Action",
    "Value": "Valeur",
    "Label": "Label",
    "Order": "Ordre",
    "Select": "Sélectionner",
    "Select button #%(n)d": "Sélectionner le bouton #%(n)d",
    "Move button #%(n)d up": "Monter le bouton #%(n)d",
    "Move button #%(n)d down": "Descendre le bouton #%(n)d",
    "Add button": "Ajouter bouton",
    "Delete button": "Supprimer bouton",
    "Resynchronize the phone": "Resynchroniser le téléphone",
    "Resynchronize now": "Resynchroniser maintenant",
    "Back to my buttons": "Retour à mes boutons",
    "Save": "Enregistrer",
    "Your phone has %(max)s buttons: remove some before saving.":
        "Votre téléphone a %(max)s boutons : retirez-en avant d'enregistrer.",
    "Choose an action.": "Choisissez une action.",
    "%(number)s is not one of your lines.": "%(number)s n'est pas une de vos lignes.",
    "Presence / pickup is not enabled for you: ask your telephony administrator.":
        "Présence / Décrocher n'est pas activé pour vous : demandez-le à votre administrateur de téléphonie.",
    "Enter a value.": "Entrez une valeur.",
    "%(number)s is not an extension of your company.": "%(number)s n'est pas un poste de votre entreprise.",
    "The label is too long (40 characters at most).": "L'étiquette est trop longue (40 caractères au maximum).",
    "The label contains characters that are not allowed.": "L'étiquette contient des caractères non permis.",
    "This value cannot be used.": "Cette valeur ne peut pas être utilisée.",
    "The form could not be read; please try again.": "Le formulaire n'a pas pu être lu; veuillez réessayer.",
    "Tick the buttons to delete first.": "Cochez d'abord les boutons à supprimer.",
    "Saved. Use \"Resynchronize the phone\" so that your phone takes the change.":
        "Enregistré. Utilisez « Resynchroniser le téléphone » pour que votre téléphone prenne la modification.",
    "The telephone system cannot be reached right now: your phone was not asked to resynchronize. Your saved buttons are kept; try again in a few minutes.":
        "Le système téléphonique est injoignable pour le moment : votre téléphone n'a pas été resynchronisé. "
        "Vos boutons enregistrés sont conservés; réessayez dans quelques minutes.",
    "Your phone was asked to reload its configuration; this takes up to a minute.":
        "Votre téléphone a été invité à recharger sa configuration; cela prend jusqu'à une minute.",
    "Set up your phone's buttons as you like. You can program the numbers you call most (speed dial).":
        "Configurez les boutons de votre téléphone à votre guise. Vous pouvez préprogrammer les numéros les plus "
        "fréquemment composés (« speed dial/appel rapide »).",
    "An assistant could also program their manager's line to answer it (presence / pickup); ask your telephony administrator to give you this option.":
        "Un assistant pourrait aussi programmer la ligne de son patron afin d'y répondre (« présence / "
        "décrocher »); demandez à votre administrateur de téléphonie de vous assigner cette option.",
    "Your phone: %(vendor)s %(model)s, %(count)s programmable buttons.":
        "Votre téléphone : %(vendor)s %(model)s, %(count)s boutons programmables.",
    "No desk phone is assigned to you yet. Your buttons are kept and sent to the phone your administrator assigns you (up to %(count)s).":
        "Aucun téléphone de bureau ne vous est encore assigné. Vos boutons sont conservés et seront envoyés au "
        "téléphone que votre administrateur vous assignera (jusqu'à %(count)s).",
    "Not yet on the phone": "Pas encore sur le téléphone",
    "On the phone": "Sur le téléphone",
    "Unsaved changes: press Save at the bottom right.":
        "Modifications non enregistrées : appuyez sur « Enregistrer » au bas de l'écran, à droite.",
    "No button yet: press \"Add button\".": "Aucun bouton pour l'instant : appuyez sur « Ajouter bouton ».",
    "Main line and secondary line: one of your own numbers. Presence / pickup: an extension of your company. Speed dial: any number you are allowed to call.":
        "Ligne principale et ligne secondaire : un de vos propres numéros. Présence / Décrocher : un poste de "
        "votre entreprise. Appel rapide : tout numéro que vous avez le droit de composer.",
    "This button asks the phone to reload its configuration.":
        "Ce bouton demande au téléphone de resynchroniser sa configuration.",
    "Make sure you saved your changes first: changes not saved on the \"My phone\" page are lost.":
        "Assurez-vous d'avoir sauvegardé les modifications au préalable : les modifications non enregistrées de "
        "la page « Mon téléphone » sont perdues.",
}

FR.update({
    # Mon softphone
    "Windows, macOS, Linux, Android, iOS; free and open source. Scan the QR code above to set it up.":
        "Windows, macOS, Linux, Android, iOS; gratuit et libre. Scannez le code QR ci-dessus pour le configurer.",
    "Windows; free and open source.": "Windows; gratuit et libre.",
    "Windows, macOS, Linux, Android, iOS; free version available.":
        "Windows, macOS, Linux, Android, iOS; version gratuite disponible.",
    "discontinued, replaced by Bria, which is not free": "abandonné, remplacé par Bria, qui n'est pas gratuit",
    "discontinued": "abandonné",
    "Linux only, still available from its project page, rarely updated":
        "Linux seulement, toujours disponible sur la page du projet, rarement mis à jour",
    "no longer maintained": "n'est plus maintenu",
    "A softphone is an application that connects to your VoIP account: with it, you call and answer from your computer or smartphone as from your desk phone, without a VPN.":
        "Un softphone est un logiciel permettant de se connecter à votre compte VoIP : vous appelez et répondez "
        "depuis votre ordinateur ou votre téléphone intelligent comme depuis votre téléphone de bureau, sans VPN.",
    "No extension is assigned to you yet: ask your telephony administrator.":
        "Aucun poste ne vous est encore assigné : communiquez avec votre administrateur de téléphonie.",
    "My softphone settings": "Paramètres de mon softphone",
    "Username:": "Nom d'utilisateur :",
    "Password:": "Mot de passe :",
    "hidden": "masqué",
    "Show the password": "Afficher le mot de passe",
    "Server/Domain:": "Serveur/Domaine :",
    "More settings": "Plus de paramètres",
    "Transport:": "Transport :",
    "Port:": "Port :",
    "Outbound proxy:": "Proxy sortant :",
    "none (use the server above)": "aucun (utilisez le serveur ci-dessus)",
    "Codecs, in order of preference:": "Codecs, par ordre de préférence :",
    "Set up your softphone in seconds": "Configurez votre softphone en quelques secondes",
    "QR code that sets up Linphone": "Code QR qui configure Linphone",
    "Install Linphone, choose \"Fetch remote configuration\" (or scan a QR code), and scan this code with your smartphone: your account is set up.":
        "Installez Linphone, choisissez « Récupérer une configuration distante » (ou scanner un code QR), puis "
        "scannez ce code avec votre téléphone intelligent : votre compte est configuré.",
    "The code holds a link that works once, for %(minutes)d minutes, and never your password. Reload this page for a new one.":
        "Le code contient un lien qui ne fonctionne qu'une fois, pendant %(minutes)d minutes, et jamais votre mot "
        "de passe. Rechargez la page pour en obtenir un nouveau.",
    "Show the QR code for Zoiper": "Afficher le code QR pour Zoiper",
    "Open it on your computer, then scan it with Zoiper on your smartphone.":
        "Ouvrez-le sur votre ordinateur, puis scannez-le avec Zoiper sur votre téléphone intelligent.",
    "Where to download a free softphone": "Quelques liens où télécharger des softphones gratuits",
    "The softphones listed in the older guide:": "Les softphones cités dans l'ancien guide :",
})
