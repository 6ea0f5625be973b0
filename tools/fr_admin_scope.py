"""French of the tenant-scoping messages of the administration services (control/admin/_base.py,
users.py, tenants.py: issue 21, "tenants are namespaces"). The tenant is the guide's "Domaine"."""

FR = {
    "You can only add objects to your own tenant.": "Vous ne pouvez ajouter des objets qu'à votre propre domaine.",
    "An object cannot move to another tenant.": "Un objet ne peut pas passer à un autre domaine.",
    "This address's e-mail domain belongs to another tenant.":
        "Le domaine de courriel de cette adresse appartient à un autre domaine.",
    "Users of another tenant have e-mail addresses in this domain.":
        "Des utilisateurs d'un autre domaine ont des adresses courriel dans ce domaine de courriel.",
    "Another tenant accepts e-mail addresses in this domain.":
        "Un autre domaine accepte les adresses courriel de ce domaine de courriel.",
}
