"""French wording of the identity screens and e-mails (sign-up, forgotten password, Google sign-in),
merged into the catalog by tools/translations_fr.py. The three login-page options use the guide's words."""

from __future__ import annotations

FR = {
    # The login page's three options, as the guide writes them.
    "Sign up": "S'enregistrer",
    "Log in with Gmail": "Connexion avec Gmail",
    "Forgot your password?": "Mot de passe oublié ?",
    # Throttling.
    "Too many attempts": "Trop de tentatives",
    "Too many requests for this form from your connection or for this e-mail address. "
    "Try again in %(minutes)d minutes.":
        "Trop de requêtes pour ce formulaire depuis votre connexion ou pour cette adresse courriel. "
        "Réessayez dans %(minutes)d minutes.",
    # Login throttling (control/logins.py).
    "Too many failed attempts. Try again in %(seconds)d seconds.":
        "Trop de tentatives infructueuses. Réessayez dans %(seconds)d secondes.",
    "Too many failed attempts on this address. Try again in %(minutes)d minutes, or use \"Forgot your "
    "password?\" to choose a new password: that lifts the lock at once.":
        "Trop de tentatives infructueuses pour cette adresse. Réessayez dans %(minutes)d minutes, ou choisissez "
        "un nouveau mot de passe avec « Mot de passe oublié ? » : le blocage sera levé aussitôt.",
    # Google sign-in refusals.
    "The Google sign-in could not be completed: it expired or did not start on this portal. Please try again.":
        "La connexion avec Google n'a pas pu aboutir : elle a expiré ou n'a pas été lancée sur ce portail. "
        "Veuillez réessayer.",
    "Google's answer could not be verified. Please try again.":
        "La réponse de Google n'a pas pu être vérifiée. Veuillez réessayer.",
    "The Google sign-in was cancelled.": "La connexion avec Google a été annulée.",
    "Google refused the sign-in. Please try again.": "Google a refusé la connexion. Veuillez réessayer.",
    "Google cannot be reached at the moment. Try again later, or log in with your e-mail and password.":
        "Google est injoignable pour le moment. Réessayez plus tard, ou connectez-vous avec votre courriel et "
        "votre mot de passe.",
    "Your Google account did not give an e-mail address, so it cannot be matched to a portal account.":
        "Votre compte Google n'a pas fourni d'adresse courriel; il ne peut donc être associé à aucun compte du "
        "portail.",
    "Your Google account's e-mail address is not verified by Google, so it cannot be used to sign in.":
        "L'adresse courriel de votre compte Google n'est pas vérifiée par Google; elle ne peut donc pas servir "
        "à vous connecter.",
    "No portal account uses the e-mail address of this Google account. Sign in with Google using your "
    "company e-mail address.":
        "Aucun compte du portail n'utilise l'adresse courriel de ce compte Google. Connectez-vous avec le "
        "compte Google de votre adresse courriel d'entreprise.",
    "Your company does not allow signing in with Google. Log in with your e-mail and password.":
        "Votre entreprise ne permet pas la connexion avec Google. Connectez-vous avec votre courriel et votre "
        "mot de passe.",
    "This portal account is linked to a different Google account.":
        "Ce compte du portail est associé à un autre compte Google.",
    "This account is disabled, not confirmed yet, or waiting for approval.":
        "Ce compte est désactivé, pas encore confirmé, ou en attente d'approbation.",
    "The Google sign-in failed. Please try again.": "La connexion avec Google a échoué. Veuillez réessayer.",
    # E-mails.
    "The ClusterPBX portal": "Le portail ClusterPBX",
    "Hello %(name)s,": "Bonjour %(name)s,",
    "Confirm your e-mail address": "Confirmez votre adresse courriel",
    "You asked to register on the ClusterPBX portal of %(company)s with this address.":
        "Vous avez demandé à vous enregistrer sur le portail ClusterPBX de %(company)s avec cette adresse.",
    "To confirm that the address is yours, open this link within %(hours)d hours:":
        "Pour confirmer que cette adresse est bien la vôtre, ouvrez ce lien d'ici %(hours)d heures :",
    "Confirm my address": "Confirmer mon adresse",
    "If you did not ask for this, ignore this message: no account will be opened.":
        "Si vous n'êtes pas à l'origine de cette demande, ignorez ce message : aucun compte ne sera ouvert.",
    "You already have an account": "Vous avez déjà un compte",
    "Someone (perhaps you) tried to register on the ClusterPBX portal with this address, but it already has "
    "an account. Log in at %(login)s.":
        "Quelqu'un (peut-être vous) a tenté de s'enregistrer sur le portail ClusterPBX avec cette adresse, "
        "mais elle a déjà un compte. Connectez-vous à %(login)s.",
    "If you forgot your password, choose a new one here:":
        "Si vous avez oublié votre mot de passe, choisissez-en un nouveau ici :",
    "If you did not ask for this, ignore this message: nothing was changed.":
        "Si vous n'êtes pas à l'origine de cette demande, ignorez ce message : rien n'a été modifié.",
    "Choose a new password": "Choisir un nouveau mot de passe",
    "You asked to choose a new password for the ClusterPBX portal. Open this link within %(minutes)d "
    "minutes; it works once:":
        "Vous avez demandé à choisir un nouveau mot de passe pour le portail ClusterPBX. Ouvrez ce lien d'ici "
        "%(minutes)d minutes; il ne fonctionne qu'une fois :",
    "Choosing a new password ends every other session of your account.":
        "Choisir un nouveau mot de passe met fin à toutes les autres sessions de votre compte.",
    "If you did not ask for this, ignore this message: your password stays the same.":
        "Si vous n'êtes pas à l'origine de cette demande, ignorez ce message : votre mot de passe reste le même.",
    # Forms and pages.
    "Enter a valid e-mail address.": "Entrez une adresse courriel valide.",
    "Check your e-mail": "Consultez vos courriels",
    "If an account uses this address, we have sent it a link to choose a new password. The link works once, "
    "within %(minutes)d minutes. Nothing arrived? Check your spam folder.":
        "Si un compte utilise cette adresse, nous lui avons envoyé un lien pour choisir un nouveau mot de passe. "
        "Le lien fonctionne une fois, d'ici %(minutes)d minutes. Rien reçu? Vérifiez vos courriels indésirables.",
    "Your password was changed. Log in with your new password.":
        "Votre mot de passe a été changé. Connectez-vous avec votre nouveau mot de passe.",
    "Enter your first and last name.": "Entrez votre prénom et votre nom.",
    "Your name may not contain control characters.": "Votre nom ne peut pas contenir de caractères de contrôle.",
    "The password and its confirmation do not match.":
        "Le mot de passe et sa confirmation ne correspondent pas.",
    "These details cannot be used. Check them and try again.":
        "Ces renseignements ne peuvent pas être utilisés. Vérifiez-les et réessayez.",
    "If this address can be registered, we have sent it an e-mail. Follow its link within %(hours)d hours to "
    "confirm the address. Nothing arrived? Check your spam folder, or ask your telephony administrator "
    "whether your company accepts sign-ups.":
        "Si cette adresse peut être enregistrée, nous lui avons envoyé un courriel. Suivez son lien d'ici "
        "%(hours)d heures pour confirmer l'adresse. Rien reçu? Vérifiez vos courriels indésirables, ou demandez "
        "à votre administrateur de téléphonie si votre entreprise accepte les inscriptions.",
    "This link has expired. Start again to receive a new one.":
        "Ce lien a expiré. Recommencez pour en recevoir un nouveau.",
    "This link was already used, or a newer one replaced it.":
        "Ce lien a déjà été utilisé, ou un lien plus récent l'a remplacé.",
    "This link is not valid. Copy the whole link from the e-mail, or start again.":
        "Ce lien n'est pas valide. Copiez le lien complet depuis le courriel, ou recommencez.",
    "Link not usable": "Lien inutilisable",
    "Your e-mail address is confirmed. You can log in now.":
        "Votre adresse courriel est confirmée. Vous pouvez vous connecter dès maintenant.",
    "Your e-mail address is confirmed. Your company's administrator must now approve your account; you can "
    "log in once it is approved.":
        "Votre adresse courriel est confirmée. L'administrateur de votre entreprise doit maintenant approuver "
        "votre compte; vous pourrez vous connecter une fois qu'il sera approuvé.",
    "Address confirmed": "Adresse confirmée",
    "Confirm that %(email)s is your address to finish signing up.":
        "Confirmez que %(email)s est bien votre adresse pour terminer votre inscription.",
    "Enter the e-mail address you log in with. We will send it a link to choose a new password.":
        "Entrez l'adresse courriel avec laquelle vous vous connectez. Nous y enverrons un lien pour choisir un "
        "nouveau mot de passe.",
    "Send me a link": "M'envoyer un lien",
    "Back to the login page": "Retour à la page de connexion",
    "For the account %(email)s. Every other session of this account will end.":
        "Pour le compte %(email)s. Toutes les autres sessions de ce compte prendront fin.",
    "Create your portal account with your company e-mail address. We will send you a link to confirm it; "
    "your company's administrator may then have to approve the account.":
        "Créez votre compte du portail avec votre adresse courriel d'entreprise. Nous vous enverrons un lien "
        "pour la confirmer; l'administrateur de votre entreprise devra peut-être ensuite approuver le compte.",
    "First name": "Prénom",
    "Last name": "Nom",
    "Confirm password": "Confirmer le mot de passe",
    "The password must follow your company's rules; if it does not, this page lists what to change.":
        "Le mot de passe doit respecter les règles de votre entreprise; sinon, cette page indique quoi changer.",
}
