"""The messages: a confirmation link, and an alert listing changes (French or English).

Alerts carry ``List-Unsubscribe`` (a one-click URL, RFC 8058 ``List-Unsubscribe-Post``) and a
plain-text body; nothing in them is HTML.
"""

from __future__ import annotations

from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate

from schedulesy.history import Lang

CONFIRM_PATH = "/api/notifications/confirm"
UNSUBSCRIBE_PATH = "/api/notifications/unsubscribe"

_TEXT: dict[Lang, dict[str, str]] = {
    "fr": {
        "confirm_subject": "Confirmez les alertes de votre emploi du temps",
        "confirm_body": "Bonjour,\n\nPour recevoir par e-mail les changements de votre emploi du temps "
                        "(cours déplacés, annulés, changements de salle…) dans les {horizon} prochains jours, "
                        "ouvrez ce lien :\n\n{link}\n\nSi vous n'avez rien demandé, ignorez ce message.\n",
        "alert_subject": "Votre emploi du temps a changé ({count} changement{plural})",
        "alert_body": "Bonjour,\n\nVotre emploi du temps a changé :\n\n{lines}\n\n"
                      "Ne plus recevoir ces alertes : {unsubscribe}\n",
    },
    "en": {
        "confirm_subject": "Confirm the alerts of your timetable",
        "confirm_body": "Hello,\n\nTo receive by e-mail the changes of your timetable (classes moved, "
                        "cancelled, room changes…) within the next {horizon} days, open this link:\n\n{link}\n\n"
                        "If you did not ask for it, ignore this message.\n",
        "alert_subject": "Your timetable changed ({count} change{plural})",
        "alert_body": "Hello,\n\nYour timetable changed:\n\n{lines}\n\nStop these alerts: {unsubscribe}\n",
    },
}


def confirm_url(public_base: str, token: str) -> str:
    return f"{public_base}{CONFIRM_PATH}?token={token}"


def unsubscribe_url(public_base: str, token: str) -> str:
    return f"{public_base}{UNSUBSCRIBE_PATH}?token={token}"


def _message(sender: str, recipient: str, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(body)
    return message


def confirmation(sender: str, recipient: str, *, link: str, horizon_days: int, lang: Lang) -> bytes:
    text = _TEXT[lang]
    body = text["confirm_body"].format(horizon=horizon_days, link=link)
    return bytes(_message(sender, recipient, text["confirm_subject"], body))


def alert(sender: str, recipient: str, *, sentences: Sequence[str], unsubscribe: str, lang: Lang) -> bytes:
    text = _TEXT[lang]
    count = len(sentences)
    subject = text["alert_subject"].format(count=count, plural="" if count == 1 else "s")
    body = text["alert_body"].format(lines="\n".join(f"- {s}" for s in sentences), unsubscribe=unsubscribe)
    message = _message(sender, recipient, subject, body)
    message["List-Unsubscribe"] = f"<{unsubscribe}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return bytes(message)
