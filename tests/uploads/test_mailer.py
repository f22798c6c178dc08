"""The e-mail texts and the .eml outbox used when no SMTP host is set (no
broker; the SMTP path is tested against a real server in the API tests)."""
from email import message_from_bytes, policy

from services.uploads import mailer
from services.uploads.settings import UploadSettings

SUB = {"id": 7, "name": "Janneke Wolff", "email": "j.wolff@school.nl", "filename": "lijst.xlsx",
       "school_type": "vo", "student_type": "potential_transfer",
       "created_at": "2026-11-25T10:00:00+00:00", "rows": 3, "error_count": 2,
       "errors": [{"row": 4, "column": "BSN", "message": "Het BSN is niet geldig."},
                  {"row": None, "column": None, "message": "Het bestand bevat geen leerlingen."}],
       "loaded": 3, "skipped": 1, "reason": "Verkeerde school."}


def test_without_smtp_host_mail_goes_to_the_outbox_as_eml(tmp_path):
    settings = UploadSettings(data_dir=tmp_path)
    for kind in ("received", "rejected", "approved", "declined"):
        assert mailer.notify(kind, SUB, settings) is True
    files = sorted((tmp_path / "outbox").glob("*.eml"))
    assert len(files) == 4
    mails = {m["X-Leerlingbus-Kind"]: m for m in
             (message_from_bytes(f.read_bytes(), policy=policy.default) for f in files)}
    assert all(m["To"] == "j.wolff@school.nl" for m in mails.values())
    assert mails["received"]["Subject"] == "Leerlinglijst ontvangen"
    rejected = mails["rejected"].get_content()
    assert "- rij 4, kolom BSN: Het BSN is niet geldig." in rejected
    assert "- Het bestand bevat geen leerlingen." in rejected
    assert "Ingeladen leerlingen: 3. Al aanwezig en overgeslagen: 1." in \
        mails["approved"].get_content()
    assert "Reden: Verkeerde school." in mails["declined"].get_content()
    assert "potentiële overstapper" in mails["declined"].get_content()


def test_an_unreachable_smtp_server_is_not_fatal(tmp_path):
    settings = UploadSettings(data_dir=tmp_path, smtp_host="127.0.0.1", smtp_port=1)
    assert mailer.notify("received", SUB, settings) is False
    assert not (tmp_path / "outbox").exists()


def test_helpdesk_notice_names_school_sender_rows_and_the_review_page(tmp_path):
    settings = UploadSettings(data_dir=tmp_path)
    sub = dict(SUB, source="portal", submitted_by="beheer1", institution_id=3, note=None,
               conflicts=[{"row": 2}])
    msg = mailer.compose_helpdesk_notice(sub, {"name": "Het Lyceum", "brin": "05KQ"},
                                         "helpdesk@example.nl", settings)
    assert msg["To"] == "helpdesk@example.nl" and msg["X-Leerlingbus-Kind"] == "helpdesk_notice"
    assert msg["Subject"] == "Nieuwe leerlinglijst ter beoordeling: Het Lyceum"
    body = msg.get_content()
    assert "School: Het Lyceum (BRIN 05KQ)" in body
    assert "Afzender: Janneke Wolff <j.wolff@school.nl>, via het portaal, gebruiker beheer1" in body
    assert "Aantal leerlingen: 3" in body and "1 leerlingnummer(s) bestaan al" in body
    assert "Beoordelen: open in Leerlingbus de pagina /uploads/7." in body
    # under a configured web address the link is absolute; written to the outbox
    settings = UploadSettings(data_dir=tmp_path, web_url="https://lb.example.nl")
    msg = mailer.compose_helpdesk_notice(dict(sub, source="public"), {"name": "Het Lyceum"},
                                         "helpdesk@example.nl", settings)
    assert "Beoordelen: https://lb.example.nl/uploads/7" in msg.get_content()
    assert "via de uploadcode" in msg.get_content()
    assert mailer.send(msg, settings) is True
    (written,) = (tmp_path / "outbox").glob("*-helpdesk_notice-*.eml")
    assert message_from_bytes(written.read_bytes(), policy=policy.default)["To"] == \
        "helpdesk@example.nl"


def test_settings_read_the_helpdesk_address_and_web_url(tmp_path):
    settings = UploadSettings.from_config({
        "LEERLINGBUS_DATA_DIR": str(tmp_path), "LEERLINGBUS_HELPDESK_EMAIL": " hd@example.nl ",
        "LEERLINGBUS_WEB_URL": "https://lb.example.nl/"})
    assert settings.helpdesk_email == "hd@example.nl"
    assert settings.web_url == "https://lb.example.nl"
