"""French wording of Appels en cours (issue 20 part 2, issue 24: a capped list with a search)."""

FR = {
    "Showing the %(shown)s most recent of %(total)s calls: use the search to find the others.":
        "Affichage des %(shown)s appels les plus récents sur %(total)s : utilisez la recherche pour trouver les autres.",
    "No call matches this search.": "Aucun appel ne correspond à cette recherche.",
}
