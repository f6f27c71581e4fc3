"""The pages' words in French and English, and which language a request gets.

``?lang=fr|en`` wins, then the first of them in ``Accept-Language`` (by weight), then French (the
product's own language).
"""

from __future__ import annotations

import datetime as dt
from typing import Literal, TypeAlias

import msgspec

Lang: TypeAlias = Literal["fr", "en"]
LANGS: tuple[Lang, ...] = ("fr", "en")
DEFAULT_LANG: Lang = "fr"


class Words(msgspec.Struct, frozen=True):
    timetable: str
    room: str
    week: str
    day: str
    month: str
    list: str
    previous: str
    next: str
    today: str
    views: str
    navigation: str
    subscribe: str
    subscribe_help: str
    calendar_app: str
    google: str
    outlook: str
    qr_code: str
    qr_alt: str
    subscription_link: str
    copy: str
    copied: str
    rooms: str
    groups: str
    instructors: str
    subjects: str
    note: str
    on_map: str
    no_events: str
    too_many: str
    more: str
    times_in: str
    not_found_title: str
    not_found_text: str
    home: str
    landing_text: str
    api_docs: str
    health: str
    demo_pages: str
    demo_timetable: str
    demo_room: str
    weekdays: tuple[str, ...]
    weekdays_short: tuple[str, ...]
    months: tuple[str, ...]
    months_short: tuple[str, ...]
    week_of: str
    language: str
    other_lang: str

    def long_date(self, day: dt.date) -> str:
        weekday, month = self.weekdays[day.weekday()], self.months[day.month - 1]
        return f"{weekday} {day.day} {month} {day.year}" if self is FR else f"{weekday}, {day.day} {month} {day.year}"

    def short_date(self, day: dt.date) -> str:
        return f"{self.weekdays_short[day.weekday()]} {day.day} {self.months_short[day.month - 1]}"

    def month_title(self, day: dt.date) -> str:
        return f"{self.months[day.month - 1]} {day.year}"

    def range_title(self, first: dt.date, last: dt.date) -> str:
        if first.month == last.month:
            return f"{first.day} – {last.day} {self.months[last.month - 1]} {last.year}"
        start = f"{first.day} {self.months_short[first.month - 1]}" + (f" {first.year}" if first.year != last.year else "")
        return f"{start} – {last.day} {self.months_short[last.month - 1]} {last.year}"


FR = Words(
    timetable="Emploi du temps", room="Salle", week="Semaine", day="Jour", month="Mois", list="Liste",
    previous="Précédent", next="Suivant", today="Aujourd'hui", views="Affichage", navigation="Période",
    subscribe="S'abonner", subscribe_help="Ajoutez cet emploi du temps à votre agenda : il se mettra à jour tout seul.",
    calendar_app="Application d'agenda (webcal)", google="Google Agenda", outlook="Outlook",
    qr_code="QR code", qr_alt="QR code du lien d'abonnement", subscription_link="Lien d'abonnement",
    copy="Copier le lien", copied="Lien copié", rooms="Salles", groups="Groupes", instructors="Enseignants",
    subjects="Matières", note="Note", on_map="voir sur la carte", no_events="Aucun cours sur cette période.",
    too_many="Cette sélection compte trop de cours pour être affichée : retirez-en quelques ressources.",
    more="de plus", times_in="Heures de", not_found_title="Page introuvable",
    not_found_text="Ce lien ne mène à aucun emploi du temps : il est inconnu ou a été révoqué.",
    home="Accueil", landing_text="Emplois du temps personnels à partir d'ADE Campus.",
    api_docs="Documentation de l'API", health="État du service", demo_pages="Pages de démonstration",
    demo_timetable="L'emploi du temps de l'utilisateur de démonstration", demo_room="Une salle",
    weekdays=("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
    weekdays_short=("lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim."),
    months=("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
            "novembre", "décembre"),
    months_short=("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."),
    week_of="Semaine du", language="Langue", other_lang="English",
)

EN = Words(
    timetable="Timetable", room="Room", week="Week", day="Day", month="Month", list="List",
    previous="Previous", next="Next", today="Today", views="View", navigation="Period",
    subscribe="Subscribe", subscribe_help="Add this timetable to your calendar: it will keep itself up to date.",
    calendar_app="Calendar app (webcal)", google="Google Calendar", outlook="Outlook",
    qr_code="QR code", qr_alt="QR code of the subscription link", subscription_link="Subscription link",
    copy="Copy link", copied="Link copied", rooms="Rooms", groups="Groups", instructors="Instructors",
    subjects="Subjects", note="Note", on_map="show on map", no_events="No classes in this period.",
    too_many="This selection has too many classes to be shown: remove some of its resources.",
    more="more", times_in="Times in", not_found_title="Page not found",
    not_found_text="This link leads to no timetable: it is unknown or has been revoked.",
    home="Home", landing_text="Personal timetables from ADE Campus.",
    api_docs="API documentation", health="Service health", demo_pages="Demo pages",
    demo_timetable="The demo user's timetable", demo_room="A room",
    weekdays=("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    weekdays_short=("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
    months=("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
            "November", "December"),
    months_short=("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
    week_of="Week of", language="Language", other_lang="Français",
)

WORDS: dict[Lang, Words] = {"fr": FR, "en": EN}


def negotiate(accept_language: str | None) -> Lang:
    """The best of our languages for an ``Accept-Language`` header (``fr-FR,en;q=0.8``)."""
    best: tuple[float, int, Lang] | None = None
    by_tag: dict[str, Lang] = {lang: lang for lang in LANGS}
    for position, item in enumerate((accept_language or "").split(",")):
        tag, _, params = item.strip().partition(";")
        primary = by_tag.get(tag.strip().lower().partition("-")[0])
        if primary is None:
            continue
        weight = 1.0
        for param in params.split(";"):
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        if weight <= 0:
            continue
        if best is None or (weight, -position) > best[:2]:
            best = (weight, -position, primary)
    return best[2] if best is not None else DEFAULT_LANG
