"""French wording of the operators' health page."""

FR = {
    "PBX health": "État des PBX",
    "As the control daemon last reported it (it updates this every few seconds).":
        "Tel que le service de contrôle l'a signalé en dernier (mis à jour toutes les quelques secondes).",
    "Node": "Nœud", "Kind": "Type", "Address": "Adresse", "Link": "Liaison", "Since": "Depuis",
    "Last event": "Dernier événement", "Pending changes": "Modifications en attente",
    "connected": "connecté", "disconnected": "déconnecté", "%(s)d s ago": "il y a %(s)d s",
    "No PBX node is configured.": "Aucun nœud PBX n'est configuré.",
}
