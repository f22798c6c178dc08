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
