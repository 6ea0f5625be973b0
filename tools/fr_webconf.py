"""French wording of Conférence en ligne (the guide's sentence, "Accéder à la conférence") and of the
invitation e-mail."""

FR = {
    "Online conference": "Conférence en ligne",
    "The «Online conference» screen lets you create %(provider)s web conferences with screen sharing. By "
    "clicking «Access the conference», you will be able to join a conference and invite people to join you.":
        "L'écran «Conférence en ligne» vous permet de créer des conférences web %(provider)s avec partage "
        "d'écran. En cliquant sur «Accéder à la conférence», vous serez en mesure de rejoindre une conférence "
        "et d'inviter des personnes à vous rejoindre.",
    "(Per-minute usage fees apply, according to the terms of your agreement with %(company)s.)":
        "(Des frais d'utilisation à la minute s'appliquent, selon les modalités de votre entente avec "
        "%(company)s.)",
    "Access the conference": "Accéder à la conférence",
    "Your conference is ready": "Votre conférence est prête",
    "Join the conference": "Rejoindre la conférence",
    "Meeting password:": "Mot de passe de la conférence :",
    "This link lets you in as the host until %(time)s; click «Access the conference» again for a new one.":
        "Ce lien vous fait entrer comme hôte jusqu'au %(time)s ; cliquez de nouveau sur «Accéder à la "
        "conférence» pour en obtenir un nouveau.",
    "Invite people": "Inviter des personnes",
    "Invitation link:": "Lien d'invitation :",
    "Link copied": "Lien copié",
    "Select the link and copy it (Ctrl+C).": "Sélectionnez le lien et copiez-le (Ctrl+C).",
    "Copy the link": "Copier le lien",
    "Share this link: whoever has it can join your conference.":
        "Partagez ce lien : quiconque l'a peut rejoindre votre conférence.",
    "Click «Access the conference» to get your conference's invitation link.":
        "Cliquez sur «Accéder à la conférence» pour obtenir le lien d'invitation de votre conférence.",
    "Invite by e-mail (up to %(count)d addresses, separated by commas or one per line):":
        "Inviter par courriel (jusqu'à %(count)d adresses, séparées par des virgules ou une par ligne) :",
    "Send the invitation": "Envoyer l'invitation",
    "My usage this month": "Ma consommation ce mois-ci",
    "%(num)d conference": ("%(num)d conférence", "%(num)d conférences"),
    "%(num)d minute": ("%(num)d minute", "%(num)d minutes"),
    "%(provider)s does not report durations: each time you access the conference counts as one conference.":
        "%(provider)s ne rapporte pas les durées : chaque accès à la conférence compte pour une conférence.",
    "Date": "Date",
    "Duration": "Durée",
    "Update my usage": "Mettre à jour ma consommation",
    "Your usage is up to date.": "Votre consommation est à jour.",
    # Provider failures
    "Online conferences are not set up for your company yet: ask your telephony administrator.":
        "Les conférences en ligne ne sont pas encore configurées pour votre entreprise : adressez-vous à votre "
        "administrateur de téléphonie.",
    "The conference service refused the portal's credentials: ask your telephony administrator to check them.":
        "Le service de conférence a refusé les identifiants du portail : demandez à votre administrateur de "
        "téléphonie de les vérifier.",
    "The conference service is receiving too many requests: try again in a few minutes.":
        "Le service de conférence reçoit trop de demandes : réessayez dans quelques minutes.",
    "The conference service cannot be reached right now: try again in a few minutes.":
        "Le service de conférence est injoignable pour le moment : réessayez dans quelques minutes.",
    "The conference service did not answer in time: try again in a few minutes.":
        "Le service de conférence n'a pas répondu à temps : réessayez dans quelques minutes.",
    "The conference service gave an unexpected answer: try again later, or ask your telephony administrator.":
        "Le service de conférence a donné une réponse inattendue : réessayez plus tard ou adressez-vous à votre "
        "administrateur de téléphonie.",
    # Invitations
    "The addresses contain invisible control characters.":
        "Les adresses contiennent des caractères de contrôle invisibles.",
    "Not a valid e-mail address: %(address)s": "Adresse courriel non valide : %(address)s",
    "Enter at least one e-mail address.": "Entrez au moins une adresse courriel.",
    "At most %(count)d addresses at a time.": "Au plus %(count)d adresses à la fois.",
    "Click «Access the conference» first: the invitation needs your conference's link.":
        "Cliquez d'abord sur «Accéder à la conférence» : l'invitation a besoin du lien de votre conférence.",
    "The invitation could not be sent to: %(addresses)s. Try again later.":
        "L'invitation n'a pas pu être envoyée à : %(addresses)s. Réessayez plus tard.",
    "Invitation sent to %(addresses)s.": "Invitation envoyée à %(addresses)s.",
    "Invitation to a web conference from %(name)s": "Invitation à une conférence web de %(name)s",
    "Hello,": "Bonjour,",
    "%(name)s (%(company)s) invites you to a web conference.":
        "%(name)s (%(company)s) vous invite à une conférence web.",
    "To join, open this link:": "Pour la rejoindre, ouvrez ce lien :",
    "You received this message because %(email)s entered your address in the ClusterPBX portal.":
        "Vous recevez ce message parce que %(email)s a saisi votre adresse dans le portail ClusterPBX.",
}
