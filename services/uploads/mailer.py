"""E-mail to the submitter of a student list, in Dutch: on receipt (the
verdict of the check), on approval (after loading) and on decline. And to
the helpdesk: a new list awaits review (compose_helpdesk_notice).

Sent over SMTP to LEERLINGBUS_SMTP_HOST:LEERLINGBUS_SMTP_PORT; with no host
configured each message is written as an .eml file to <data dir>/outbox/.
A failure to send is logged, never fatal: the submission's state is what
counts, and the user sees it in the portal too.
"""
import datetime as dt
import logging
import smtplib
import uuid
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from . import columns as colspec

log = logging.getLogger(__name__)

MAX_LISTED_ERRORS = 20


def _greeting(sub):
    return f"Beste {sub['name']},"


def _list_line(sub):
    return (f"Het gaat om de leerlinglijst '{sub['filename']}' "
            f"({colspec.SCHOOL_TYPE_NL.get(sub['school_type'], sub['school_type'])}, "
            f"{colspec.STUDENT_TYPE_NL.get(sub['student_type'], sub['student_type']).lower()}), "
            f"ingestuurd op {sub['created_at'][:10]} met kenmerk {sub['id']}.")


def compose(kind, sub, sender):
    """An EmailMessage for `kind` (received, rejected, approved, declined)."""
    lines = [_greeting(sub), ""]
    if kind == "received":
        subject = "Leerlinglijst ontvangen"
        lines += [
            "Wij hebben uw leerlinglijst ontvangen en gecontroleerd: er zijn geen fouten "
            "gevonden.",
            _list_line(sub),
            "",
            f"De lijst bevat {sub['rows']} leerling(en). Let op: de leerlingen verschijnen niet "
            "direct in het systeem. Onze helpdesk controleert de lijst en laadt hem daarna in; "
            "u krijgt dan opnieuw bericht.",
        ]
    elif kind == "rejected":
        subject = "Leerlinglijst bevat fouten"
        lines += [
            "Wij hebben uw leerlinglijst ontvangen, maar er zitten fouten in. De lijst is "
            "daarom niet verwerkt.",
            _list_line(sub),
            "",
            f"Aantal fouten: {sub['error_count']}. De eerste:",
        ]
        for err in sub.get("errors", [])[:MAX_LISTED_ERRORS]:
            where = []
            if err.get("row"):
                where.append(f"rij {err['row']}")
            if err.get("column"):
                where.append(f"kolom {err['column']}")
            lines.append(f"- {', '.join(where) + ': ' if where else ''}{err['message']}")
        lines += ["", "Verbeter het bestand en stuur het opnieuw op. In het portaal kunt u een "
                      "rapport downloaden waarin elke foute cel is gemarkeerd."]
    elif kind == "approved":
        subject = "Leerlinglijst goedgekeurd en ingeladen"
        lines += [
            "Onze helpdesk heeft uw leerlinglijst goedgekeurd en ingeladen.",
            _list_line(sub),
            "",
            f"Ingeladen leerlingen: {sub['loaded']}."
            + (f" Al aanwezig en overgeslagen: {sub['skipped']}." if sub.get("skipped") else ""),
        ]
    elif kind == "declined":
        subject = "Leerlinglijst afgewezen"
        lines += [
            "Onze helpdesk heeft uw leerlinglijst afgewezen.",
            _list_line(sub),
            "",
            f"Reden: {sub.get('reason') or '-'}",
            "",
            "Pas de lijst zo nodig aan en stuur hem opnieuw op.",
        ]
    else:  # pragma: no cover - programming error
        raise ValueError(kind)
    lines += ["", "Met vriendelijke groet,", "Helpdesk Leerlingbus"]
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = sender
    msg["To"] = sub["email"]
    msg["Date"] = format_datetime(dt.datetime.now(dt.timezone.utc))
    msg["Message-ID"] = make_msgid(domain="leerlingbus.nl")
    msg["X-Leerlingbus-Submission"] = str(sub["id"])
    msg["X-Leerlingbus-Kind"] = kind
    msg.set_content("\n".join(lines), charset="utf-8")
    return msg


def review_link(sub, settings):
    """Where the helpdesk reviews the list: the web page /uploads/{id}, under
    LEERLINGBUS_WEB_URL when that is set."""
    path = f"/uploads/{sub['id']}"
    return f"{settings.web_url}{path}" if settings.web_url else path


def compose_helpdesk_notice(sub, school, recipient, settings):
    """The helpdesk's notice that a student list awaits review. `school` is the
    institution record (name, brin)."""
    if sub.get("source") == "public":
        via = "via de uploadcode (zonder account)"
    else:
        via = "via het portaal" + (f", gebruiker {sub['submitted_by']}"
                                   if sub.get("submitted_by") else "")
    school_name = school.get("name") or f"instelling {sub['institution_id']}"
    lines = [
        "Beste helpdesk,", "",
        "Er staat een nieuwe leerlinglijst klaar om te beoordelen. De lijst is gecontroleerd "
        "en bevat geen fouten.", "",
        f"School: {school_name}" + (f" (BRIN {school['brin']})" if school.get("brin") else ""),
        f"Afzender: {sub['name']} <{sub['email']}>, {via}",
        f"Bestand: {sub['filename']} "
        f"({colspec.SCHOOL_TYPE_NL.get(sub['school_type'], sub['school_type'])}, "
        f"{colspec.STUDENT_TYPE_NL.get(sub['student_type'], sub['student_type']).lower()})",
        f"Aantal leerlingen: {sub['rows']}",
        f"Ingestuurd op: {sub['created_at'][:10]}, kenmerk {sub['id']}",
    ]
    conflicts = len(sub.get("conflicts") or [])
    if conflicts:
        lines.append(f"Let op: {conflicts} leerlingnummer(s) bestaan al met een ander BSN "
                     "(zie de lijst).")
    if sub.get("note"):
        lines += ["", "Toelichting van de afzender:", sub["note"]]
    link = review_link(sub, settings)
    lines += ["", f"Beoordelen: {link}" if settings.web_url
              else f"Beoordelen: open in Leerlingbus de pagina {link}.",
              "", "Leerlingbus"]
    msg = EmailMessage()
    msg["Subject"] = f"Nieuwe leerlinglijst ter beoordeling: {school_name}"
    msg["From"] = settings.smtp_from
    msg["To"] = recipient
    msg["Date"] = format_datetime(dt.datetime.now(dt.timezone.utc))
    msg["Message-ID"] = make_msgid(domain="leerlingbus.nl")
    msg["X-Leerlingbus-Submission"] = str(sub["id"])
    msg["X-Leerlingbus-Kind"] = "helpdesk_notice"
    msg.set_content("\n".join(lines), charset="utf-8")
    return msg


def send(msg, settings):
    """Send over SMTP, or write to <data dir>/outbox/ without a host. True when
    delivered to the server or written."""
    try:
        if settings.smtp_host:
            with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=15) as smtp:
                smtp.send_message(msg)
        else:
            outbox = Path(settings.data_dir) / "outbox"
            outbox.mkdir(parents=True, exist_ok=True)
            stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S")
            name = f"{stamp}-{msg['X-Leerlingbus-Kind']}-{uuid.uuid4().hex[:8]}.eml"
            (outbox / name).write_bytes(bytes(msg))
        return True
    except (OSError, smtplib.SMTPException) as exc:
        log.warning("e-mail for submission %s not sent: %s",
                    msg["X-Leerlingbus-Submission"], exc)
        return False


def notify(kind, sub, settings):
    return send(compose(kind, sub, settings.smtp_from), settings)
