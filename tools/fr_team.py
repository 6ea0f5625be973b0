"""French wording of Mes files d'attente, Répertoire and Conférence personnelle (from the guide)."""

FR = {
    # Conférence personnelle
    "Announce the number of participants": "Annoncer le nombre de participants",
    "When someone joins, they hear how many people are already in the conference.":
        "À son arrivée, chaque participant entend combien de personnes sont déjà dans la conférence.",
    "Announce when a participant joins or leaves": "Annoncer l'arrivée/départ d'un participant",
    "Each caller records their name on arrival; everyone hears it when they join and when they leave.":
        "Chaque participant enregistre son nom à l'arrivée; tous l'entendent à son arrivée et à son départ.",
    "Music on hold": "Attente musicale",
    "Music plays while you are alone in the conference.":
        "Une musique joue tant que vous êtes seul dans la conférence.",
    "Hear the options when pressing the * key": "Écouter les options sur pression de la touche *",
    "Pressing * during the conference reads out the menu (mute, leave, number of participants...).":
        "La touche * pendant la conférence fait entendre le menu (sourdine, quitter, nombre de participants...).",
    "Wait for the administrator to start": "Attendre l'arrivée de l'administrateur pour commencer",
    "Participants wait, with music, until someone joins with the admin PIN (or you call from your own phone); the conference ends when the administrator leaves.":
        "Les participants patientent en musique jusqu'à l'arrivée de quelqu'un avec le NIP Admin (ou de vous, "
        "depuis votre propre poste); la conférence se termine au départ de l'administrateur.",
    "Listen-only mode (users only)": "Mode écoute uniquement (utilisateurs seulement)",
    "Participants who join with the user PIN are muted and cannot unmute themselves; the administrator can still speak.":
        "Les participants entrés avec le NIP Utilisateur sont en sourdine et ne peuvent pas la retirer; "
        "l'administrateur peut toujours parler.",
    "Admin PIN": "NIP Admin",
    "User PIN": "NIP Utilisateur",
    "Maximum number of users (including Admin)": "Nombre maximum d'utilisateurs (incluant Admin)",
    "Enable my personal conference": "Activer ma conférence personnelle",
    "enter a PIN to turn the conference on.": "entrez un NIP pour activer la conférence.",
    "the PIN must contain digits only.": "le NIP ne doit contenir que des chiffres.",
    "the PIN must contain between %(min)s and %(max)s digits.":
        "le NIP doit contenir entre %(min)s et %(max)s chiffres.",
    "the user PIN must differ from the admin PIN.": "le NIP Utilisateur doit être différent du NIP Admin.",
    "between %(min)s and %(max)s.": "entre %(min)s et %(max)s.",
    "you have no extension yet; ask your telephony administrator.":
        "vous n'avez pas encore de poste; adressez-vous à votre administrateur de téléphonie.",
    "Options reset to their defaults. Press Apply to save them.":
        "Options remises à leurs valeurs par défaut. Appuyez sur Appliquer pour les enregistrer.",
    "The participant was removed from the conference.": "Le participant a été retiré de la conférence.",
    "Participant muted.": "Participant mis en sourdine.",
    "Participant unmuted.": "Sourdine du participant retirée.",
    "This participant is no longer in your conference.": "Ce participant n'est plus dans votre conférence.",
    "The telephone system cannot be reached right now. Try again in a moment.":
        "Le système téléphonique est injoignable pour le moment. Réessayez dans un instant.",
    "When enabled, dial %(code)s to join your personal conference.":
        "Lorsque activée, composez %(code)s pour rejoindre votre conférence personnelle.",
    "My personal conference": "Ma conférence personnelle",
    "Admin PIN:": "NIP Admin:",
    "User PIN:": "NIP Utilisateur:",
    "Digits only, %(min)d to %(max)d digits; the two PINs must differ.":
        "Chiffres seulement, de %(min)d à %(max)d chiffres; les deux NIP doivent être différents.",
    "Maximum number of users (including Admin):": "Nombre maximum d'utilisateurs (incluant Admin):",
    "Options": "Options",
    "More info: %(option)s": "Plus d'infos : %(option)s",
    "Reset the options": "Réinitialiser les options",
    "In your conference now": "Dans votre conférence en ce moment",
    "The telephone system cannot be reached right now: the participants cannot be shown.":
        "Le système téléphonique est injoignable pour le moment : les participants ne peuvent pas être affichés.",
    "Nobody is in your conference right now.": "Personne n'est dans votre conférence en ce moment.",
    "Participant": "Participant",
    "Role": "Rôle",
    "Microphone": "Micro",
    "Actions": "Actions",
    "Unknown caller": "Appelant inconnu",
    "Admin": "Admin",
    "User": "Utilisateur",
    "Muted": "En sourdine",
    "Open": "Ouvert",
    "Unmute": "Retirer la sourdine",
    "Mute": "Sourdine",
    "Remove": "Retirer",
    "The \"Personal conference\" screen lets you set up your own conference. Several options are available; press the (i) buttons for more information on each option.":
        "L'écran «Conférence personnelle» vous permet de créer votre propre conférence. Plusieurs options sont "
        "disponibles. Appuyez sur les boutons (i) pour un complément d'information pour chaque option.",
    # Répertoire
    "Name": "Nom",
    "Number": "Numéro",
    "Personal directory": "Répertoire personnel",
    "contains characters that are not allowed.": "contient des caractères non permis.",
    "is not a valid phone number.": "n'est pas un numéro de téléphone valide.",
    "is too long.": "est trop long.",
    "is required.": "est obligatoire.",
    "is full (500 entries at most).": "est plein (500 entrées au maximum).",
    "Added to your personal directory. Resynchronize the phone to see it there.":
        "Ajouté à votre répertoire personnel. Resynchronisez le téléphone pour l'y voir.",
    "Removed from your personal directory.": "Retiré de votre répertoire personnel.",
    "The telephone system cannot be reached right now: your phone was not asked to download your directory. Your entries are kept; try again in a few minutes.":
        "Le système téléphonique est injoignable pour le moment : votre téléphone n'a pas pu être invité à "
        "télécharger votre répertoire. Vos entrées sont conservées; réessayez dans quelques minutes.",
    "Search name/department": "Rechercher nom/département",
    "Clear the search": "Effacer la recherche",
    "Available user(s)": "Utilisateur(s) disponible(s)",
    "Nobody matches \"%(q)s\".": "Personne ne correspond à «%(q)s».",
    "No users.": "Aucun utilisateur.",
    "Phone not connected": "Téléphone non connecté",
    "In your directory": "Dans votre répertoire",
    "Add": "Ajouter",
    "Previous": "Précédent",
    "Page %(n)d": "Page %(n)d",
    "Selected user(s)": "Utilisateur(s) sélectionné(s)",
    "Your personal directory is empty: add colleagues from the left column or an external contact below.":
        "Votre répertoire personnel est vide : ajoutez des collègues depuis la colonne de gauche ou un contact "
        "externe ci-dessous.",
    "Add an external contact": "Ajouter un contact externe",
    "The left column of the \"Directory\" screen lets you browse the company directory.":
        "La colonne de gauche de l'écran «Répertoire» vous permet de consulter le répertoire de l'entreprise.",
    "In the right column, specify your personal directory. It will be downloaded to your desk phone.":
        "Dans la colonne de droite, spécifiez votre répertoire personnel. Il sera téléchargé sur votre téléphone "
        "de bureau.",
    # Mes files d'attente
    "Choose a pause reason.": "Choisissez un motif de pause.",
    "Connected to the queue": "Connecté à la file d'attente",
    "Offline": "Hors-ligne",
    "Connected, paused": "Connecté, en pause",
    "From this page you can log in as an agent to the queues.":
        "Depuis cette page vous pouvez vous connecter en tant qu'agent aux files d'attente.",
    "Legend:": "Légende:",
    "Your extension is connected to the queue.": "Votre poste est connecté à la file d'attente.",
    "Offline, your extension is not connected to the queue.":
        "Hors-ligne, votre poste n'est pas connecté à la file d'attente.",
    "Connected to the queue but paused.": "Connecté à la file d'attente mais en pause.",
    "You are not an agent of any queue. If your company uses phone queues, your telephony administrator can add you to them.":
        "Vous n'êtes agent d'aucune file d'attente. Si votre entreprise utilise des files d'attente "
        "téléphoniques, votre administrateur de téléphonie peut vous y ajouter.",
    "Queue": "File d'attente",
    "Agent status": "Statut",
    "Connected": "Connecté",
    "Paused": "En pause",
    "Resume": "Reprendre",
    "Pause reason": "Motif de pause",
    "Pause": "Pause",
    "If your company uses phone queues, they are shown on the \"My queues\" screen. You can change your status for each queue with the \"Actions\" buttons.":
        "Si votre entreprise utilise des files d'attente téléphoniques, elles seront visibles depuis l'écran "
        "«Mes files d'attente». Vous pouvez modifier votre statut pour chaque file d'attente grâce aux boutons "
        "«Actions».",
}
