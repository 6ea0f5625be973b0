"""French wording of Détails d'appels, Messagerie vocale and Appels en cours (from the guide)."""

FR = {
    "Call answered": "Appel pris",
    "No answer": "Sans réponse",
    "Busy": "Occupé",
    "Failed": "Échec",
    "Call not recorded": "Appel non enregistré",
    "Call recorded": "Appel enregistré",
    "Incoming": "Entrant",
    "Outgoing": "Sortant",
    "Internal": "Interne",
    "Caller": "Appelant",
    "Caller number": "L'appelant",
    "Dialed number": "Numéro composé",
    "Callee": "Appelé",
    "Start": "Début",
    "Duration": "Durée",
    "Status": "État",
    "Recording status": "État enregistrement",
    "Call type": "Type d'appel",
    "User cost": "Coût utilisateur",
    "This page link is no longer valid; showing the first page.":
        "Ce lien de page n'est plus valide; voici la première page.",
    "This number cannot be called.": "Ce numéro ne peut pas être appelé.",
    "The telephone system cannot be reached right now; try again in a moment.":
        "Le système téléphonique est injoignable pour le moment; réessayez dans un instant.",
    "Your phone is ringing: pick it up to call %(number)s.":
        "Votre téléphone sonne : décrochez pour appeler le %(number)s.",
    "Calls per day": "Appels par jour",
    "%(day)s: %(answered)d answered, %(missed)d missed, %(incoming)d incoming, %(outgoing)d outgoing":
        "%(day)s : %(answered)d pris, %(missed)d manqués, %(incoming)d entrants, %(outgoing)d sortants",
    "Start date (00:00):": "Date de début (00h00):",
    "End date (23:59):": "Date de fin (23h59):",
    "Search": "Rechercher",
    "Name or number": "Nom ou numéro",
    "Filter": "Filtrer",
    "Export": "Exporter",
    "Times are shown in your time zone (%(tz)s).": "Les heures sont affichées dans votre fuseau horaire (%(tz)s).",
    "Answered": "Pris",
    "Missed": "Manqués",
    "%(num)d call": ("%(num)d appel", "%(num)d appels"),
    "Call %(number)s": "Appeler le %(number)s",
    "Play": "Écouter",
    "Download": "Télécharger",
    "Pages": "Pages",
    "First page": "Première page",
    "Next": "Suivant",
    "No call matches these filters.": "Aucun appel ne correspond à ces filtres.",
    "No calls yet: calls made or received at your extension will appear here.":
        "Aucun appel pour l'instant : les appels faits ou reçus à votre poste apparaîtront ici.",
}
FR.update({
    "Current calls": "Appels en cours",
    "The page refreshes itself every fifteen seconds.": "La page se rafraîchit automatiquement à toutes les quinze secondes.",
    "As an administrator you see every call of your company.":
        "En tant qu'administrateur, vous voyez tous les appels de votre entreprise.",
    "No call in progress.": "Aucun appel en cours.",
    "Call start": "Début de l'appel",
    "Source": "Source",
    "Destination": "Destination",
    "Source IP": "Source IP",
    "Destination IP": "Destination IP",
})
FR.update({
    "Your voicemail cannot be reached right now (the telephone system does not answer). Try again in a moment.":
        "Votre boîte vocale est injoignable pour le moment (le système téléphonique ne répond pas). "
        "Réessayez dans un instant.",
    "Tick at least one message.": "Cochez au moins un message.",
    "%(num)d message(s) deleted.": "%(num)d message(s) supprimé(s).",
    "Marked as heard.": "Marqué comme écouté.",
    "One of these messages no longer exists.": "L'un de ces messages n'existe plus.",
    "Voicemail guide": "Guide de la boîte vocale",
    "Your messages cannot be shown right now.": "Vos messages ne peuvent pas être affichés pour le moment.",
    "No voice messages.": "Aucun message vocal.",
    "Delete voicemail": "Supprimer Message vocal",
    "Download voicemail": "Télécharger Message vocal",
    "Mark as heard": "Marquer comme écouté",
    "Select": "Sélectionner",
    "Date": "Date",
    "Duration (h-m-s)": "Durée (h-m-s)",
    "Listen": "Écouter",
    "Select the message of %(date)s": "Sélectionner le message du %(date)s",
    "New": "Nouveau",
})
FR.update({"Today": "Aujourd'hui", "calls": "appels", "missed calls": "appels manqués",
           "new voice messages": "nouveaux messages vocaux"})
