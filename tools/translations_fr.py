"""French wording of the portal, taken from the user guide where the guide has it.

Run `python tools/translations_fr.py` to (re)write web/translations/fr/LC_MESSAGES/messages.po from the
extracted template: every msgid must have a French entry here, or the script fails.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

FR = {
    "Home": "Accueil",
    "My profile picture": "Mon image de profil",
    "Call details": "Détails d'appels",
    "Voicemail": "Messagerie vocale",
    "Current calls": "Appels en cours",
    "My softphone": "Mon softphone",
    "My phone": "Mon téléphone",
    "My queues": "Mes Files d'attente",
    "Directory": "Répertoire",
    "SMS": "SMS",
    "Online conference": "Conférence en ligne",
    "Personal conference": "Conférence personnelle",
    "Settings": "Paramètres",
    "Log out": "Déconnexion",
    "Log in": "Connexion",
    "Language": "Langue",
    "E-mail": "Courriel",
    "Password": "Mot de passe",
    "Remember me": "Se souvenir de moi",
    "Skip to content": "Aller au contenu",
    "Main menu": "Menu principal",
    "Log in with your company e-mail address and the password your telephony administrator gave you.":
        "Veuillez vous connecter au portail en utilisant votre adresse courriel d'entreprise et le mot de passe "
        "associé tels que spécifiés par votre administrateur de téléphonie.",
    "Incorrect e-mail or password.": "Courriel ou mot de passe incorrect.",
    "Too many failed attempts. Try again in %(minutes)d minutes.":
        "Trop de tentatives infructueuses. Réessayez dans %(minutes)d minutes.",
    "Your form expired or did not come from this portal. Go back, reload the page and try again; nothing was changed.":
        "Votre formulaire a expiré ou ne provient pas de ce portail. Revenez en arrière, rechargez la page et "
        "réessayez; rien n'a été modifié.",
    "This page does not exist, or you do not have access to it.":
        "Cette page n'existe pas, ou vous n'y avez pas accès.",
    "The file is too large (5 MB at most).": "Le fichier est trop volumineux (5 Mo au maximum).",
    "Too many attempts in a short time. Wait a minute, then try again.":
        "Trop de tentatives en peu de temps. Patientez une minute, puis réessayez.",
    "Something went wrong on our side. Your data is safe; please try again.":
        "Une erreur s'est produite de notre côté. Vos données sont intactes; veuillez réessayer.",
    "Back to the portal": "Retour au portail",
    "A guide for users is available": "Un guide à l'intention des utilisateurs est disponible",
    "here": "ici",
    "For the voicemail guide, please click": "Pour le guide de la boîte vocale, veuillez cliquer",
    "My photo": "Ma photo",
    "About me": "À propos de moi",
    "User:": "Utilisateur:",
    "Domain:": "Domaine:",
    "Status:": "Statut:",
    "Phone connected": "Poste connecté",
    "Phone disconnected": "Poste déconnecté",
    "Phone status unknown": "Statut du poste inconnu",
    "Upload a new profile picture": "Téléverser une nouvelle image de profil",
    "From this page you can upload a profile picture. It will appear in some menus of the portal and on compatible devices.":
        "Depuis cette page, vous pouvez téléverser une image de profil. Celle-ci apparaîtra dans certains menus "
        "de l'interface et sur les appareils compatibles.",
    "Image to upload:": "Image à téléverser:",
    "PNG, JPEG, GIF or WebP, 5 MB at most. The image is cropped to a square.":
        "PNG, JPEG, GIF ou WebP, 5 Mo au maximum. L'image est recadrée en carré.",
    "Upload": "Mettre en ligne",
    "Which picture do you want to use as your profile picture?":
        "Quelle image souhaitez-vous utiliser en image de profil?",
    "My uploaded picture:": "Mon image téléversée:",
    "the picture you uploaded directly from this page.":
        "Cette image correspond à l'image que vous avez téléversée directement depuis cette page.",
    "My Google profile picture:": "Mon image de profil Google:",
    "the profile picture of your Google account. It is available once you have signed in at least once with 'Log in with Gmail' on the login page.":
        "Cette image correspond à l'image de profil de votre compte Google. Cette image sera disponible à "
        "condition que vous vous soyez connecté au moins une fois avec l'option 'Connexion avec Gmail' depuis "
        "la page de connexion.",
    "Profile picture": "Image de profil",
    "My uploaded picture": "Mon image téléversée",
    "My Google profile picture": "Mon image de profil Google",
    "Apply": "Appliquer",
    "This picture is shown when you call a compatible device.":
        "Cette image sera affichée lorsque vous appelez un appareil compatible.",
    "The file is empty.": "Le fichier est vide.",
    "The image has too many pixels (24 megapixels at most).":
        "L'image compte trop de pixels (24 mégapixels au maximum).",
    "This file is not an image in an accepted format (PNG, JPEG, GIF or WebP).":
        "Ce fichier n'est pas une image dans un format accepté (PNG, JPEG, GIF ou WebP).",
    "This image cannot be used.": "Cette image ne peut pas être utilisée.",
    "Choose an image file to upload.": "Choisissez un fichier image à téléverser.",
    "Your profile picture was updated.": "Votre image de profil a été mise à jour.",
    "Choose which picture to use.": "Choisissez l'image à utiliser.",
    "Your Google picture is available once you have signed in with Google at least once.":
        "Votre image Google sera disponible une fois que vous vous serez connecté au moins une fois avec Gmail.",
    "Upload a picture first.": "Téléversez d'abord une image.",
    "Advanced settings": "Paramètres avancés",
    "Account": "Compte",
    "yes": "oui",
    "no": "non",
    "Must contain between %(min)d and %(max)d characters.": "Doit contenir entre %(min)d et %(max)d caractères.",
    "The password may be empty: %(v)s": "Le mot de passe peut être vide: %(v)s",
    "The password must be numeric: %(v)s": "Le mot de passe doit être numérique: %(v)s",
    "The password must contain a digit: %(v)s": "Le mot de passe doit contenir un caractère numérique: %(v)s",
    "The password must contain a lowercase letter: %(v)s": "Le mot de passe doit contenir une minuscule: %(v)s",
    "The password must contain an uppercase letter: %(v)s": "Le mot de passe doit contenir une majuscule: %(v)s",
    "The password must contain a special character: %(v)s":
        "Le mot de passe doit contenir un caractère spécial: %(v)s",
    "The password may not be empty.": "Le mot de passe ne peut pas être vide.",
    "The password must contain between %(min)d and %(max)d characters.":
        "Le mot de passe doit contenir entre %(min)d et %(max)d caractères.",
    "The password may not contain control characters.":
        "Le mot de passe ne peut pas contenir de caractères de contrôle.",
    "The password must contain digits only.": "Le mot de passe doit être numérique.",
    "The password must contain a digit.": "Le mot de passe doit contenir un caractère numérique.",
    "The password must contain a lowercase letter.": "Le mot de passe doit contenir une minuscule.",
    "The password must contain an uppercase letter.": "Le mot de passe doit contenir une majuscule.",
    "The password must contain a special character.": "Le mot de passe doit contenir un caractère spécial.",
    "The current password is incorrect.": "Le mot de passe actuel est incorrect.",
    "The new password and its confirmation do not match.":
        "Le nouveau mot de passe et sa confirmation ne correspondent pas.",
    "Your password was changed.": "Votre mot de passe a été modifié.",
    "The form could not be read; please try again.": "Le formulaire n'a pas pu être lu; veuillez réessayer.",
    "Web portal password": "Mot de passe interface web",
    "This password gives you access to your web portal.":
        "Ce mot de passe vous permet d'accéder à votre interface web.",
    "Restriction(s):": "Restriction(s):",
    "Current password:": "Mot de passe actuel:",
    "New password:": "Nouveau mot de passe:",
    "Confirm password:": "Confirmer mot de passe:",
    "Save": "Enregistrer",
    "Not a valid choice.": "Choix invalide.",
}


def all_french() -> dict[str, str]:
    """FR above plus every `tools/fr_*.py` module's FR dict (one per feature, to avoid edit clashes)."""
    import importlib.util

    merged = dict(FR)
    for path in sorted(Path(__file__).resolve().parent.glob("fr_*.py")):
        spec = importlib.util.spec_from_file_location(path.stem, path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        merged.update(module.FR)
    return merged


def main() -> int:
    from babel.messages.pofile import read_po, write_po

    french = all_french()

    root = Path(__file__).resolve().parents[1] / "web" / "translations"
    with open(root / "messages.pot", "rb") as f:
        template = read_po(f)
    from babel.messages.catalog import Catalog

    catalog = Catalog(locale="fr", project="ClusterPBX", fuzzy=False)
    missing = []
    for msg in template:
        if not msg.id:
            continue
        key = msg.id if isinstance(msg.id, str) else msg.id[0]
        if key not in french:
            missing.append(key)
            continue
        value = french[key]
        if isinstance(msg.id, tuple):
            forms = list(value) if isinstance(value, tuple) else [value, value]
            # French has three CLDR plural forms (one, many, other): the last given form fills the rest.
            value = tuple(forms + [forms[-1]] * (catalog.num_plurals - len(forms)))
        elif isinstance(value, tuple):
            value = value[0]
        catalog.add(msg.id, value, locations=msg.locations, flags=msg.flags - {"fuzzy"},
                    auto_comments=msg.auto_comments)
    if missing:
        print("missing French for:", *missing, sep="\n  ")
        # While several features are being built at once, CLUSTERPBX_I18N_PARTIAL=1 still writes the
        # catalogue for what is translated; the default (and CI) refuses any missing message.
        if not os.environ.get("CLUSTERPBX_I18N_PARTIAL"):
            return 1
    template = catalog
    out = root / "fr" / "LC_MESSAGES" / "messages.po"
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "wb") as f:
        write_po(f, template, width=100)
    return 0


if __name__ == "__main__":
    sys.exit(main())
