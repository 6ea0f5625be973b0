"""Répertoire: the company directory (searchable, accent-insensitive, paged) and the user's personal
directory (PersonalContact rows) that provisioning sends to the desk phone.

Browsing is LIMIT 50 OFFSET n in SQL on (last_name, first_name, id). A search folds accents in Python:
SQLite's LOWER() only folds ASCII, PostgreSQL's `unaccent` is an extension, and a SQL REPLACE() chain
over every accented letter overflows SQLite's parser. So a search reads the tenant's (id, first name,
last name, department) in that order, keeps the rows whose folded text contains the folded term, and
loads only the page's 50 users. A LIKE '%x%' scans the rows anyway; for 10,000 users this is a few
tens of milliseconds on either backend and needs no schema change.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from . import audit, validation
from .models import Extension, PersonalContact, Registration, User
from .presence import PhoneStatus

PAGE_SIZE = 50
MAX_CONTACTS = 500  # what desk phones' local phone books hold comfortably


def fold(text: str) -> str:
    """Lower-case, accent-free form used on both sides of a search ("Vallée" -> "vallee")."""
    text = text.replace("œ", "oe").replace("Œ", "oe").replace("æ", "ae").replace("Æ", "ae")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


@dataclass(frozen=True)
class DirectoryEntry:
    user_id: int
    name: str
    extension: str
    department: str
    presence: PhoneStatus

    @property
    def label(self) -> str:
        """The guide's "Mamadou KONE (217 Modulis)"."""
        inside = " ".join(p for p in (self.extension, self.department) if p)
        return f"{self.name} ({inside})" if inside else self.name


@dataclass(frozen=True)
class DirectoryPage:
    entries: list[DirectoryEntry]
    page: int
    has_next: bool


def _with_extension(q: Select[Any]) -> Select[Any]:
    # The primary extension is the lowest number (User.extensions is ordered by number).
    first_ext = (select(func.min(Extension.number)).where(Extension.user_id == User.id)
                 .correlate(User).scalar_subquery())
    sip = (select(Extension.sip_username).where(Extension.user_id == User.id, Extension.number == first_ext)
           .correlate(User).limit(1).scalar_subquery())
    return q.add_columns(first_ext.label("number"), sip.label("sip"))


ORDER = (User.last_name, User.first_name, User.id)


def _matching_ids(db: Session, tenant_id: int, term: str) -> list[int]:
    rows = db.execute(select(User.id, User.first_name, User.last_name, User.department)
                      .where(User.tenant_id == tenant_id, User.active.is_(True)).order_by(*ORDER))
    return [uid for uid, first, last, dept in rows
            if term in fold(f"{first} {last}") or term in fold(dept or "")]


def company_page(db: Session, tenant_id: int, node_id: int | None, search: str = "", page: int = 1) -> DirectoryPage:
    """One page of the company directory, with each user's phone presence (projected registrations)."""
    page = max(1, min(page, 10_000))
    start = (page - 1) * PAGE_SIZE
    term = fold(search.strip())[:80]
    base = select(User).where(User.tenant_id == tenant_id, User.active.is_(True))
    if term:
        ids = _matching_ids(db, tenant_id, term)
        has_next = len(ids) > start + PAGE_SIZE
        wanted = ids[start:start + PAGE_SIZE]
        rows: list[Any] = list(db.execute(_with_extension(base.where(User.id.in_(wanted))).order_by(*ORDER))
                               .all()) if wanted else []
    else:
        rows = list(db.execute(_with_extension(base).order_by(*ORDER).limit(PAGE_SIZE + 1).offset(start)).all())
        has_next = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE]
    registered: dict[str, bool] = {}
    sips = [sip for _u, _n, sip in rows if sip]
    if node_id is not None and sips:
        for endpoint, reg in db.execute(select(Registration.endpoint, Registration.registered)
                                        .where(Registration.node_id == node_id, Registration.endpoint.in_(sips))):
            registered[endpoint] = bool(reg)
    entries = []
    for user, number, sip in rows:
        if sip is None or sip not in registered:
            presence = PhoneStatus.UNKNOWN
        else:
            presence = PhoneStatus.REGISTERED if registered[sip] else PhoneStatus.UNREGISTERED
        entries.append(DirectoryEntry(user.id, user.display_name, number or "", user.department, presence))
    return DirectoryPage(entries, page, has_next)


class ContactRefused(ValueError):
    def __init__(self, field: str, code: str):
        super().__init__(f"{field}: {code}")
        self.field = field
        self.code = code


@dataclass(frozen=True)
class ContactView:
    id: int
    label: str
    number: str
    internal: bool
    ref_user_id: int | None = None


def personal_contacts(db: Session, user: User) -> list[ContactView]:
    rows = db.execute(select(PersonalContact, User).outerjoin(User, User.id == PersonalContact.ref_user_id)
                      .where(PersonalContact.user_id == user.id)
                      .order_by(PersonalContact.name, PersonalContact.id)).all()
    out = []
    for pc, ref in rows:
        if ref is not None:
            ext = ref.primary_extension
            inside = " ".join(p for p in ((ext.number if ext else ""), ref.department) if p)
            label = f"{ref.display_name} ({inside})" if inside else ref.display_name
            out.append(ContactView(pc.id, label, ext.number if ext else "", True, ref.id))
        else:
            out.append(ContactView(pc.id, f"{pc.name} ({pc.number})", pc.number, False))
    return out


def _check_room(db: Session, user: User) -> None:
    count = db.scalar(select(func.count()).select_from(PersonalContact).where(PersonalContact.user_id == user.id))
    if (count or 0) >= MAX_CONTACTS:
        raise ContactRefused("contacts", "too_many")


def add_colleague(db: Session, user: User, ref_user_id: int) -> PersonalContact:
    """Pick an entry of the company directory: only an active user of the same tenant."""
    ref = db.get(User, ref_user_id)
    if ref is None or ref.tenant_id != user.tenant_id or not ref.active:
        raise LookupError("no such user in your company")
    existing = db.scalar(select(PersonalContact).where(PersonalContact.user_id == user.id,
                                                       PersonalContact.ref_user_id == ref.id))
    if existing is not None:
        return existing
    _check_room(db, user)
    # The name is kept for sorting; the number always follows the colleague's current extension.
    pc = PersonalContact(user_id=user.id, ref_user_id=ref.id, name=ref.display_name[:120], number="")
    db.add(pc)
    db.flush()
    audit.user_change(db, user, "personal_contact", {}, audit.state(pc), action="create", object_id=pc.id)
    db.commit()
    return pc


def add_external(db: Session, user: User, name: str, number: str) -> PersonalContact:
    try:
        clean_name = validation.display_name(name, "name", max_length=120)
    except validation.InvalidValue as exc:
        raise ContactRefused("name", exc.code) from None
    if not clean_name:
        raise ContactRefused("name", "required")
    try:
        clean_number = validation.phone_number(number, "number")
    except validation.InvalidValue as exc:
        raise ContactRefused("number", exc.code) from None
    _check_room(db, user)
    pc = PersonalContact(user_id=user.id, ref_user_id=None, name=clean_name, number=clean_number)
    db.add(pc)
    db.flush()
    audit.user_change(db, user, "personal_contact", {}, audit.state(pc), action="create", object_id=pc.id)
    db.commit()
    return pc


def remove(db: Session, user: User, contact_id: int) -> None:
    """Only the user's own entries: another user's id is simply not found."""
    pc = db.scalar(select(PersonalContact).where(PersonalContact.id == contact_id,
                                                 PersonalContact.user_id == user.id))
    if pc is None:
        raise LookupError("no such contact")
    audit.user_change(db, user, "personal_contact", audit.state(pc), {}, action="delete", object_id=pc.id)
    db.delete(pc)
    db.commit()
