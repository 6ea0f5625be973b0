"""French wording of the administration screens (web/admin/) and of the administration services'
field labels, help texts and messages (control/admin/), in the guide's vocabulary: the tenant is the
guide's "Domaine", a tenant admin its "administrateur de téléphonie".

The services mark their labels and messages with `N_` (one of pybabel's default keywords), so
`tools/i18n.sh` extracts them from control/admin/; tests/admin_web checks every one reached the catalog.
"""

from __future__ import annotations

# The services' own labels and messages (control/admin/) are in tools/fr_admin_services.py.
FR = {
    'Administration': 'Administration',
    'Overview': "Vue d'ensemble",
    'CSV import and export': 'Import et export CSV',
    'Audit log': 'Journal des modifications',
    'As an operator, you see every tenant and every PBX node.':
        "En tant qu'opérateur, vous voyez tous les domaines et tous les nœuds PBX.",
    "As your company's telephony administrator, you manage the users, phones and options of your tenant.":
        "En tant qu'administrateur de téléphonie de votre entreprise, vous gérez les utilisateurs, les téléphones et les options de votre domaine.",
    'Only an operator may do this. Ask your service provider.':
        'Seul un opérateur peut faire ceci. Adressez-vous à votre fournisseur de service.',
    'Back to the administration': "Retour à l'administration",
    'Search': 'Rechercher',
    'Clear the search': 'Effacer la recherche',
    'Add': 'Ajouter',
    '%(num)d item': ('%(num)d élément', '%(num)d éléments'),
    'Actions': 'Actions',
    'Edit': 'Modifier',
    'Delete': 'Supprimer',
    'Pages': 'Pages',
    'Previous page': 'Page précédente',
    'Next page': 'Page suivante',
    'Page %(n)d of %(total)d': 'Page %(n)d de %(total)d',
    'Nothing matches this search.': 'Aucun résultat pour cette recherche.',
    'Nothing here yet.': 'Rien ici pour le moment.',
    'Add the first one': 'Ajouter le premier',
    'Nothing was saved. Correct the fields marked below.':
        "Rien n'a été enregistré. Corrigez les champs indiqués ci-dessous.",
    'Nothing was saved.': "Rien n'a été enregistré.",
    '%(field)s: %(message)s': '%(field)s : %(message)s',
    'Nothing to choose from yet.': 'Rien à choisir pour le moment.',
    'required': 'obligatoire',
    'Leave empty to keep the current value.': 'Laissez vide pour garder la valeur actuelle.',
    'These values cannot be changed on this screen.': 'Ces valeurs ne peuvent pas être modifiées sur cet écran.',
    'Save': 'Enregistrer',
    'Cancel': 'Annuler',
    'Back to the list': 'Retour à la liste',
    'Created.': 'Créé.',
    'Changes saved.': 'Modifications enregistrées.',
    'Yes': 'Oui',
    'No': 'Non',
    'Choose among the listed values.': 'Choisissez parmi les valeurs proposées.',
    'At most %(n)d characters.': '%(n)d caractères au maximum.',
    'Enter a number between %(min)s and %(max)s.': 'Entrez un nombre entre %(min)s et %(max)s.',
    'French': 'Français',
    'English': 'English',
    'User': 'Utilisateur',
    'Telephony administrator': 'Administrateur de téléphonie',
    'Operator': 'Opérateur',
    'None': 'Aucun',
    'The PBX': 'Le PBX',
    'Delete %(title)s?': 'Supprimer %(title)s ?',
    'This cannot be undone. The change is recorded in the audit log.':
        'Cette action est irréversible. La modification est inscrite au journal des modifications.',
    'Yes, delete': 'Oui, supprimer',
    '%(title)s was deleted.': '%(title)s a été supprimé.',
    'Test the connection': 'Tester la connexion',
    'Connection test succeeded.': 'Test de connexion réussi.',
    'Connection test failed.': 'Le test de connexion a échoué.',
    'Reset the password': 'Réinitialiser le mot de passe',
    'A password reset link was sent to %(title)s.':
        'Un lien de réinitialisation du mot de passe a été envoyé à %(title)s.',
    'The e-mail could not be sent; nothing was changed. Try again later.':
        "Le courriel n'a pas pu être envoyé; rien n'a été modifié. Réessayez plus tard.",
    'Disable': 'Désactiver',
    'Enable': 'Activer',
    '%(title)s is disabled.': '%(title)s est désactivé.',
    '%(title)s is enabled.': '%(title)s est activé.',
    'What to import or export': 'Quoi importer ou exporter',
    'Import': 'Importer',
    'Export': 'Exporter',
    'The file is checked first: every error is listed with its line number and nothing is written. Once the file has no error, confirm the import.':
        "Le fichier est d'abord vérifié : chaque erreur est listée avec son numéro de ligne et rien n'est écrit. Une fois le fichier sans erreur, confirmez l'importation.",
    'Every tenant': 'Tous les domaines',
    'CSV file': 'Fichier CSV',
    'UTF-8 or Excel CSV, 2 MB at most; the first line names the columns, as in the export.':
        "CSV UTF-8 ou Excel, 2 Mo au maximum; la première ligne nomme les colonnes, comme dans l'export.",
    'Check the file': 'Vérifier le fichier',
    'Check result': 'Résultat de la vérification',
    '%(num)d error: nothing was imported. Correct the file and check it again.':
        ("%(num)d erreur : rien n'a été importé. Corrigez le fichier et vérifiez-le de nouveau.", "%(num)d erreurs : rien n'a été importé. Corrigez le fichier et vérifiez-le de nouveau."),
    'Errors by line': 'Erreurs par ligne',
    'Line': 'Ligne',
    'Error': 'Erreur',
    'No error: %(num)d line is ready to be imported.':
        ('Aucune erreur : %(num)d ligne est prête à être importée.', 'Aucune erreur : %(num)d lignes sont prêtes à être importées.'),
    'Confirm the import': "Confirmer l'importation",
    '%(num)d line imported.': ('%(num)d ligne importée.', '%(num)d lignes importées.'),
    'Choose a CSV file to upload.': 'Choisissez un fichier CSV à téléverser.',
    'The file is too large (2 MB at most).': 'Le fichier est trop volumineux (2 Mo au maximum).',
    'Download the CSV file': 'Télécharger le fichier CSV',
    'Every change made by anyone: who, when (%(zone)s), what, before and after.':
        'Chaque modification faite par quiconque : qui, quand (%(zone)s), quoi, avant et après.',
    'Object type': "Type d'objet",
    'All': 'Tous',
    'Changed by': 'Modifié par',
    'Anyone': "N'importe qui",
    'From': 'Du',
    'To': 'Au',
    'Filter': 'Filtrer',
    'Clear the filters': 'Effacer les filtres',
    '%(num)d change': ('%(num)d modification', '%(num)d modifications'),
    'Before and after': 'Avant et après',
    'Field': 'Champ',
    'Before': 'Avant',
    'After': 'Après',
    'No change matches these filters.': 'Aucune modification ne correspond à ces filtres.',
    'Creation': 'Création',
    'Change': 'Modification',
    'Deletion': 'Suppression',
    'Password reset': 'Réinitialisation du mot de passe',
    'Connection test': 'Test de connexion',
    'command line': 'ligne de commande',
    'Dates must be written as YYYY-MM-DD.': "Les dates s'écrivent AAAA-MM-JJ.",
    'This value is not valid.': "Cette valeur n'est pas valide.",
    'Column': 'Colonne',
    'New: %(created)d, changed: %(updated)d, unchanged: %(unchanged)d.':
        'Nouveaux : %(created)d, modifiés : %(updated)d, inchangés : %(unchanged)d.',
    "(set)": "(défini)",
    "(changed)": "(modifié)",
    "self sign-up": "inscription en ligne",
}


def service_msgids() -> list[str]:
    """Every label, help text and message of the administration services, in registry order."""
    import importlib
    import pkgutil

    from clusterpbx.control import admin

    found: list[str] = []

    def add(text: str) -> None:
        if text and text not in found:
            found.append(text)

    for res in admin.resources():
        add(res.label)
        for f in res.fields:
            add(f.label)
            add(f.help)
    for info in pkgutil.iter_modules(admin.__path__):
        module = importlib.import_module(f"{admin.__name__}.{info.name}")
        for name, value in vars(module).items():
            if name.isupper() and isinstance(value, str) and " " in value and value.rstrip().endswith("."):
                add(value)
    return found
