"""French wording of the administration screens (web/admin/) and of the administration services'
field labels, help texts and messages (control/admin/), in the guide's vocabulary: the tenant is the
guide's "Domaine", a tenant admin its "administrateur de téléphonie".

The services mark their labels and messages with `N_` (one of pybabel's default keywords), so
`tools/i18n.sh` extracts them from control/admin/; tests/admin_web checks every one reached the catalog.
"""

from __future__ import annotations

FR = {
    # Menu, navigation, overview
    "Administration": "Administration",
    "Overview": "Vue d'ensemble",
    "CSV import and export": "Import et export CSV",
    "Audit log": "Journal des modifications",
    "As an operator, you see every tenant and every PBX node.":
        "En tant qu'opérateur, vous voyez tous les domaines et tous les nœuds PBX.",
    "As your company's telephony administrator, you manage the users, phones and options of your tenant.":
        "En tant qu'administrateur de téléphonie de votre entreprise, vous gérez les utilisateurs, les "
        "téléphones et les options de votre domaine.",
    "Only an operator may do this. Ask your service provider.":
        "Seul un opérateur peut faire ceci. Adressez-vous à votre fournisseur de service.",
    "Back to the administration": "Retour à l'administration",
    # Lists
    "Search": "Rechercher",
    "Clear the search": "Effacer la recherche",
    "Add": "Ajouter",
    "%(num)d item": ("%(num)d élément", "%(num)d éléments"),
    "Actions": "Actions",
    "Edit": "Modifier",
    "Delete": "Supprimer",
    "Pages": "Pages",
    "Previous page": "Page précédente",
    "Next page": "Page suivante",
    "Page %(n)d of %(total)d": "Page %(n)d de %(total)d",
    "Nothing matches this search.": "Aucun résultat pour cette recherche.",
    "Nothing here yet.": "Rien ici pour le moment.",
    "Add the first one": "Ajouter le premier",
    # Forms
    "Nothing was saved. Correct the fields marked below.":
        "Rien n'a été enregistré. Corrigez les champs indiqués ci-dessous.",
    "Nothing was saved.": "Rien n'a été enregistré.",
    "%(field)s: %(message)s": "%(field)s : %(message)s",
    "Nothing to choose from yet.": "Rien à choisir pour le moment.",
    "required": "obligatoire",
    "Leave empty to keep the current value.": "Laissez vide pour garder la valeur actuelle.",
    "These values cannot be changed on this screen.": "Ces valeurs ne peuvent pas être modifiées sur cet écran.",
    "Save": "Enregistrer",
    "Cancel": "Annuler",
    "Back to the list": "Retour à la liste",
    "Created.": "Créé.",
    "Changes saved.": "Modifications enregistrées.",
    "Yes": "Oui",
    "No": "Non",
    "Choose among the listed values.": "Choisissez parmi les valeurs proposées.",
    "This field is required.": "Ce champ est obligatoire.",
    "At most %(n)d characters.": "%(n)d caractères au maximum.",
    "Enter a whole number.": "Entrez un nombre entier.",
    "Enter a number between %(min)s and %(max)s.": "Entrez un nombre entre %(min)s et %(max)s.",
    "French": "Français",
    "English": "English",
    "User": "Utilisateur",
    "Telephony administrator": "Administrateur de téléphonie",
    "Operator": "Opérateur",
    "None": "Aucun",
    "The PBX": "Le PBX",
    # Deletion
    "Delete %(title)s?": "Supprimer %(title)s ?",
    "This cannot be undone. The change is recorded in the audit log.":
        "Cette action est irréversible. La modification est inscrite au journal des modifications.",
    "Yes, delete": "Oui, supprimer",
    "%(title)s was deleted.": "%(title)s a été supprimé.",
    # Actions of nodes and users
    "Test the connection": "Tester la connexion",
    "Connection test succeeded.": "Test de connexion réussi.",
    "Connection test failed.": "Le test de connexion a échoué.",
    "Reset the password": "Réinitialiser le mot de passe",
    "A password reset link was sent to %(title)s.":
        "Un lien de réinitialisation du mot de passe a été envoyé à %(title)s.",
    "The e-mail could not be sent; nothing was changed. Try again later.":
        "Le courriel n'a pas pu être envoyé; rien n'a été modifié. Réessayez plus tard.",
    "Disable": "Désactiver",
    "Enable": "Activer",
    "%(title)s is disabled.": "%(title)s est désactivé.",
    "%(title)s is enabled.": "%(title)s est activé.",
    # CSV import and export
    "Phones": "Téléphones",
    "What to import or export": "Quoi importer ou exporter",
    "Import": "Importer",
    "Export": "Exporter",
    "The file is checked first: every error is listed with its line number and nothing is written. Once the file has no error, confirm the import.":
        "Le fichier est d'abord vérifié : chaque erreur est listée avec son numéro de ligne et rien n'est "
        "écrit. Une fois le fichier sans erreur, confirmez l'importation.",
    "Tenant": "Domaine",
    "Every tenant": "Tous les domaines",
    "CSV file": "Fichier CSV",
    "UTF-8 or Excel CSV, 2 MB at most; the first line names the columns, as in the export.":
        "CSV UTF-8 ou Excel, 2 Mo au maximum; la première ligne nomme les colonnes, comme dans l'export.",
    "Check the file": "Vérifier le fichier",
    "Check result": "Résultat de la vérification",
    "%(num)d error: nothing was imported. Correct the file and check it again.": (
        "%(num)d erreur : rien n'a été importé. Corrigez le fichier et vérifiez-le de nouveau.",
        "%(num)d erreurs : rien n'a été importé. Corrigez le fichier et vérifiez-le de nouveau."),
    "Errors by line": "Erreurs par ligne",
    "Line": "Ligne",
    "Error": "Erreur",
    "No error: %(num)d line is ready to be imported.": (
        "Aucune erreur : %(num)d ligne est prête à être importée.",
        "Aucune erreur : %(num)d lignes sont prêtes à être importées."),
    "Confirm the import": "Confirmer l'importation",
    "%(num)d line imported.": ("%(num)d ligne importée.", "%(num)d lignes importées."),
    "Choose a CSV file to upload.": "Choisissez un fichier CSV à téléverser.",
    "The file is too large (2 MB at most).": "Le fichier est trop volumineux (2 Mo au maximum).",
    "Download the CSV file": "Télécharger le fichier CSV",
    # Audit log
    "Every change made by anyone: who, when (%(zone)s), what, before and after.":
        "Chaque modification faite par quiconque : qui, quand (%(zone)s), quoi, avant et après.",
    "Object type": "Type d'objet",
    "All": "Tous",
    "Changed by": "Modifié par",
    "Anyone": "N'importe qui",
    "From": "Du",
    "To": "Au",
    "Filter": "Filtrer",
    "Clear the filters": "Effacer les filtres",
    "%(num)d change": ("%(num)d modification", "%(num)d modifications"),
    "Before and after": "Avant et après",
    "Field": "Champ",
    "Before": "Avant",
    "After": "Après",
    "No change matches these filters.": "Aucune modification ne correspond à ces filtres.",
    "Creation": "Création",
    "Change": "Modification",
    "Deletion": "Suppression",
    "Password reset": "Réinitialisation du mot de passe",
    "Connection test": "Test de connexion",
    "command line": "ligne de commande",
    "Dates must be written as YYYY-MM-DD.": "Les dates s'écrivent AAAA-MM-JJ.",

    # ---- The services' resources, field labels and help texts (control/admin/) ----
    "Tenants": "Domaines",
    "PBX nodes": "Nœuds PBX",
    "Users": "Utilisateurs",
    "Queues": "Files d'attente",
    "Destination groups": "Groupes de destinations",
    "Pause reasons": "Raisons de pause",
    "Rates": "Tarifs",
    "Name": "Nom",
    "Prefixes": "Préfixes",
    "One dialled prefix per line, e.g. 1514": "Un préfixe composé par ligne, par exemple 1514",
    "MAC address": "Adresse MAC",
    "Vendor": "Fabricant",
    "Model": "Modèle",
    "Label": "Libellé",
    "Owner": "Propriétaire",
    "Provisioning username": "Nom d'utilisateur de provisionnement",
    "Empty: the MAC address": "Vide : l'adresse MAC",
    "Provisioning password": "Mot de passe de provisionnement",
    "Empty: generated": "Vide : généré automatiquement",
    "Created": "Créé le",
    "Kind": "Type",
    "Address": "Adresse",
    "Port": "Port",
    "Empty: 5038 (AMI) or 8021 (ESL)": "Vide : 5038 (AMI) ou 8021 (ESL)",
    "Username": "Nom d'utilisateur",
    "AMI user (Asterisk)": "Utilisateur AMI (Asterisk)",
    "Secret": "Secret",
    "AMI secret or ESL password": "Secret AMI ou mot de passe ESL",
    "Voicemail spool path": "Dossier des messages vocaux",
    "Configuration folder": "Dossier de configuration",
    "SIP domain": "Domaine SIP",
    "Adapter options": "Options de l'adaptateur",
    "KEY=VALUE per line: context, voicemail_context, cdr_csv, timezone, json_cdr_error_dir":
        "CLÉ=VALEUR par ligne : context, voicemail_context, cdr_csv, timezone, json_cdr_error_dir",
    "Enabled": "Activé",
    "Name on the PBX": "Nom sur le PBX",
    "Name shown to users": "Nom affiché aux utilisateurs",
    "Number": "Numéro",
    "Strategy": "Stratégie",
    "Agents": "Agents",
    "Prefix": "Préfixe",
    "Price per minute": "Prix à la minute",
    "Billing increment (seconds)": "Incrément de facturation (secondes)",
    "Domain": "Nom de domaine",
    "SIP and portal domain, e.g. acme.example.com": "Domaine SIP et du portail, par exemple acme.example.com",
    "E-mail domains": "Domaines de courriel",
    "Comma-separated domains accepted for sign-up":
        "Domaines acceptés pour « S'enregistrer », séparés par des virgules",
    "PBX node": "Nœud PBX",
    "Time zone": "Fuseau horaire",
    "Default country": "Pays par défaut",
    "Default language": "Langue par défaut",
    "Password minimum length": "Longueur minimale du mot de passe",
    "Password maximum length": "Longueur maximale du mot de passe",
    "Password may be empty": "Le mot de passe peut être vide",
    "Password numeric only": "Le mot de passe doit être numérique",
    "Password requires a digit": "Le mot de passe doit contenir un caractère numérique",
    "Password requires a lowercase letter": "Le mot de passe doit contenir une minuscule",
    "Password requires an uppercase letter": "Le mot de passe doit contenir une majuscule",
    "Password requires a special character": "Le mot de passe doit contenir un caractère spécial",
    "Voicemail PIN minimum length": "Longueur minimale du NIP de boîte vocale",
    "Voicemail PIN maximum length": "Longueur maximale du NIP de boîte vocale",
    "Sign-in with a password": "Connexion avec mot de passe",
    "Sign-in with Google": "Connexion avec Gmail",
    "Self sign-up": "S'enregistrer (inscription libre)",
    "Approve sign-ups automatically": "Approuver les inscriptions automatiquement",
    "Conference prefix": "Préfixe de conférence",
    "Record calls": "Enregistrer les appels",
    "Allow recording download": "Permettre le téléchargement des enregistrements",
    "SMS provider": "Fournisseur SMS",
    "Monthly SMS quota": "Quota mensuel de SMS",
    "Web conference provider": "Fournisseur de conférence en ligne",
    "Call record retention (days)": "Conservation des détails d'appels (jours)",
    "Voicemail retention (days)": "Conservation des messages vocaux (jours)",
    "Provisioning networks": "Réseaux de provisionnement",
    "Comma-separated networks allowed to fetch phone configurations (empty: any)":
        "Réseaux autorisés à télécharger la configuration des téléphones, séparés par des virgules (vide : tous)",
    "Provisioning key": "Clé de provisionnement",
    "E-mail": "Courriel",
    "First name": "Prénom",
    "Last name": "Nom",
    "Department": "Département",
    "Language": "Langue",
    "Empty: the tenant's": "Vide : celui du domaine",
    "Role": "Rôle",
    "Active": "Actif",
    "Approved": "Approuvé",
    "Password": "Mot de passe",
    "Empty: the user chooses one through the password reset e-mail":
        "Vide : l'utilisateur le choisit grâce au courriel de réinitialisation",
    "Extension": "Poste",
    "SIP password": "Mot de passe SIP",
    "Voicemail PIN": "NIP de boîte vocale",
    "Presence and pickup buttons": "Boutons présence / décrocher",
    "Last login": "Dernière connexion",
    # ---- The services' messages ----
    "This value is too long.": "Cette valeur est trop longue.",
    "Control characters are not allowed.": "Les caractères de contrôle ne sont pas permis.",
    "This number is too small.": "Ce nombre est trop petit.",
    "This number is too large.": "Ce nombre est trop grand.",
    "Enter yes or no.": "Entrez oui ou non.",
    "Choose one of the proposed values.": "Choisissez une des valeurs proposées.",
    "This object does not exist.": "Cet objet n'existe pas.",
    "Only an operator may change this field.": "Seul un opérateur peut modifier ce champ.",
    "Enter a list of identifiers.": "Entrez une liste d'identifiants.",
    "The data could not be read.": "Les données n'ont pas pu être lues.",
    "This value is not valid.": "Cette valeur n'est pas valide.",
    "Enter prefixes of 1 to 20 digits (an optional + first), one per line.":
        "Entrez des préfixes de 1 à 20 chiffres (précédés au besoin d'un +), un par ligne.",
    "A destination group with this name already exists.": "Un groupe de destinations porte déjà ce nom.",
    "Enter a MAC address such as 00:15:65:12:34:56.": "Entrez une adresse MAC comme 00:15:65:12:34:56.",
    "A phone with this MAC address already exists.": "Un téléphone a déjà cette adresse MAC.",
    "Unknown phone vendor.": "Fabricant de téléphone inconnu.",
    "Unknown model for this vendor.": "Modèle inconnu pour ce fabricant.",
    "Use letters, digits, '.', '_' and '-' only.": "Utilisez seulement des lettres, des chiffres, « . », « _ » et « - ».",
    "A provisioning password is 12 to 128 letters, digits or _ . - ~.":
        "Un mot de passe de provisionnement compte de 12 à 128 lettres, chiffres ou _ . - ~.",
    "A node with this name already exists.": "Un nœud porte déjà ce nom.",
    "Enter a host name or an IP address.": "Entrez un nom d'hôte ou une adresse IP.",
    "Enter one KEY=VALUE per line with a known key.": "Entrez une CLÉ=VALEUR par ligne, avec une clé connue.",
    "Tenants still live on this node.": "Des domaines utilisent encore ce nœud.",
    "The control daemon is not reachable, so the connection cannot be tested.":
        "Le démon de contrôle est injoignable : la connexion ne peut pas être testée.",
    "This pause reason already exists.": "Cette raison de pause existe déjà.",
    "A queue with this name already exists.": "Une file d'attente porte déjà ce nom.",
    "A queue number is 2 to 10 digits.": "Le numéro d'une file d'attente compte de 2 à 10 chiffres.",
    "Enter a prefix of 1 to 20 digits (an optional + first).":
        "Entrez un préfixe de 1 à 20 chiffres (précédé au besoin d'un +).",
    "Enter a price such as 0.0250 (at most 4 decimals).": "Entrez un prix comme 0.0250 (4 décimales au plus).",
    "This prefix already has a rate.": "Ce préfixe a déjà un tarif.",
    "Enter a domain name such as example.com.": "Entrez un nom de domaine comme example.com.",
    "A tenant with this domain already exists.": "Un domaine utilise déjà ce nom de domaine.",
    "Enter domain names separated by commas.": "Entrez des noms de domaine séparés par des virgules.",
    "Unknown time zone.": "Fuseau horaire inconnu.",
    "Enter a two-letter country code.": "Entrez un code de pays de deux lettres.",
    "Use digits, * and # only.": "Utilisez seulement des chiffres, * et #.",
    "Enter networks such as 192.0.2.0/24, separated by commas.":
        "Entrez des réseaux comme 192.0.2.0/24, séparés par des virgules.",
    "The minimum is larger than the maximum.": "Le minimum dépasse le maximum.",
    "A numeric-only password cannot require letters or special characters.":
        "Un mot de passe numérique ne peut pas exiger de lettres ni de caractères spéciaux.",
    "Enter a valid e-mail address.": "Entrez une adresse courriel valide.",
    "A user with this e-mail address already exists.": "Un utilisateur a déjà cette adresse courriel.",
    "An extension is 2 to 10 digits.": "Un poste compte de 2 à 10 chiffres.",
    "This extension is already taken in this tenant.": "Ce poste est déjà pris dans ce domaine.",
    "Give the user an extension first.": "Donnez d'abord un poste à l'utilisateur.",
    "A SIP password is 12 to 128 letters, digits or _ . - + = ! @ # % ^ * ~.":
        "Un mot de passe SIP compte de 12 à 128 lettres, chiffres ou _ . - + = ! @ # % ^ * ~.",
    "A voicemail PIN has digits only.": "Un NIP de boîte vocale ne contient que des chiffres.",
    "The PIN length does not follow the tenant's policy.": "La longueur du NIP ne respecte pas la politique du domaine.",
    "The password breaks the tenant's password policy.":
        "Le mot de passe ne respecte pas les restrictions de mot de passe du domaine.",
    "Only an operator may grant the operator role.": "Seul un opérateur peut donner le rôle d'opérateur.",
    "You cannot delete your own account.": "Vous ne pouvez pas supprimer votre propre compte.",
    "You cannot disable your own account.": "Vous ne pouvez pas désactiver votre propre compte.",
    "This account is disabled.": "Ce compte est désactivé.",
    "A name cannot contain ';' (it separates names in CSV files).":
        "Un nom ne peut pas contenir « ; » (il sépare les noms dans les fichiers CSV).",
    # ---- CSV import (control/admin/csvio.py) ----
    "The file is not valid CSV.": "Le fichier n'est pas un CSV valide.",
    "The column %(column)s is missing.": "La colonne %(column)s est absente.",
    "Unknown column: %(column)s.": "Colonne inconnue : %(column)s.",
    "The file has too many lines (at most %(max)d).": "Le fichier a trop de lignes (%(max)d au maximum).",
    "The file has no lines to import.": "Le fichier n'a aucune ligne à importer.",
    "This e-mail address repeats line %(line)d.": "Cette adresse courriel répète la ligne %(line)d.",
    "This extension repeats line %(line)d.": "Ce poste répète la ligne %(line)d.",
    "This MAC address repeats line %(line)d.": "Cette adresse MAC répète la ligne %(line)d.",
    "Unknown name: %(name)s.": "Nom inconnu : %(name)s.",
    "No user of this tenant has this e-mail address.": "Aucun utilisateur de ce domaine n'a cette adresse courriel.",
    "You may not change this account.": "Vous ne pouvez pas modifier ce compte.",
    "This line conflicts with existing data.": "Cette ligne entre en conflit avec des données existantes.",
    "Column": "Colonne",
    "New: %(created)d, changed: %(updated)d, unchanged: %(unchanged)d.":
        "Nouveaux : %(created)d, modifiés : %(updated)d, inchangés : %(unchanged)d.",
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
