"""The public page (a list sent with the upload code), and the security rules
of docs/web.md: cookie flags, no token in pages, URLs or storage, CSRF refusal,
CSP, another school's pages refused, logout, an expired token, the keyboard."""
import hashlib
import json
import re
import time
from pathlib import Path

import jwt
import requests
from playwright.sync_api import expect

from tests.browser.conftest import HELPDESK_PASSWORD, check_a11y, login, path_of, screenshot
from tests.browser.test_helpdesk import submit_list
from tests.uploads import xlsxfactory as xf

JWT = re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]+")


def test_public_upload_with_the_upload_code(page, system, tmp_path):
    inst, admin = system.school("41PU", "Het Openbaar College", school_type="mbo",
                                admin="openbaar")
    code = system.api("GET", f"/institutions/{inst['id']}/upload-code", admin).json()[
        "upload_code"]
    page.goto("/inloggen")
    page.get_by_role("link", name="opsturen met de uploadcode").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Leerlinglijst opsturen")
    check_a11y(page)
    # step 1 is chosen here
    page.get_by_role("button", name="Middelbaar Beroepsonderwijs").click()
    page.get_by_role("button", name="Niet-overstapper").click()
    with page.expect_download() as info:
        page.get_by_role("link", name="Download").click()
    assert info.value.suggested_filename.endswith(".xlsx")
    screenshot(page, "openbaar-leerlinglijst")

    rows = [xf.student_row(i, "mbo", "non_transfer") for i in range(1, 4)]
    path = tmp_path / "lijst.xlsx"
    path.write_bytes(xf.make_list(rows, "mbo", "non_transfer"))
    # an MBO school choosing VO: refused, in words the sender can act on
    rows_vo = [xf.student_row(i, "vo", "non_transfer") for i in range(1, 3)]
    vo_path = tmp_path / "vo.xlsx"
    vo_path.write_bytes(xf.make_list(rows_vo, "vo", "non_transfer"))
    page.goto("/leerlinglijst-opsturen")
    page.get_by_role("button", name="Voortgezet Onderwijs").click()
    page.get_by_role("button", name="Niet-overstapper").click()
    page.get_by_label("Uploadcode").fill(code)
    page.get_by_label("Uw naam").fill("Piet Pieters")
    page.get_by_label("Uw e-mailadres").fill("piet@openbaar.nl")
    page.get_by_label("Leerlingbestand").set_input_files(str(vo_path))
    page.get_by_role("button", name="Opsturen").click()
    expect(page.locator("form .field-error").first).to_contain_text("MBO")
    page.goto("/leerlinglijst-opsturen")
    page.get_by_role("button", name="Middelbaar Beroepsonderwijs").click()
    page.get_by_role("button", name="Niet-overstapper").click()
    page.get_by_label("Uploadcode").fill("verkeerde-code")
    page.get_by_label("Uw naam").fill("Piet Pieters")
    page.get_by_label("Uw e-mailadres").fill("piet@openbaar.nl")
    page.get_by_label("Leerlingbestand").set_input_files(str(path))
    page.get_by_role("button", name="Opsturen").click()
    field = page.locator(".field", has=page.get_by_label("Uploadcode"))
    expect(field.locator(".field-error")).to_contain_text("uploadcode is onbekend")
    expect(page.get_by_label("Uw naam")).to_have_value("Piet Pieters")
    expect(page.get_by_label("Uploadcode")).to_have_value("verkeerde-code")
    check_a11y(page)
    page.get_by_label("Uploadcode").fill(code)
    page.get_by_label("Leerlingbestand").set_input_files(str(path))
    page.get_by_role("button", name="Opsturen").click()
    expect(page.get_by_text("Leerlinglijst opgestuurd")).to_be_visible()
    check_a11y(page)
    lists = system.api("GET", "/uploads", admin).json()["items"]
    assert [(u["source"], u["school_type"], u["name"]) for u in lists] == \
        [("public", "mbo", "Piet Pieters")]


def cookie_of(ctx):
    [cookie] = [c for c in ctx.cookies() if c["name"] == "lb_session"]
    return cookie


def test_session_cookie_and_no_token_in_pages_urls_or_storage(page, context, system):
    login(page, "platform", "helpdesk", HELPDESK_PASSWORD)
    cookie = cookie_of(context)
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Lax"
    assert cookie["secure"] is False  # plain http here; see the https check below
    assert not JWT.search(cookie["value"])
    for path in ("/", "/scholen", "/beoordelen"):
        page.goto(path)
        assert not JWT.search(page.content()), path
        assert not JWT.search(page.url)
        stored = page.evaluate("() => JSON.stringify([document.cookie, "
                               "Object.entries(localStorage), Object.entries(sessionStorage)])")
        assert not JWT.search(stored) and "lb_session" not in stored
    # behind an https proxy the cookie is Secure
    r = requests.get(system.url("/inloggen"), headers={"X-Forwarded-Proto": "https"}, timeout=10)
    assert "; Secure" in r.headers["Set-Cookie"] and "HttpOnly" in r.headers["Set-Cookie"]
    assert "SameSite=Lax" in r.headers["Set-Cookie"]


def test_headers_csp_and_csrf_refusal(page, context, system):
    r = requests.get(system.url("/inloggen"), timeout=10)
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Cache-Control"] == "no-store"

    # the CSP holds in the browser: an injected inline script does not run
    page.goto("/inloggen")
    page.evaluate("""() => { const s = document.createElement('script');
        s.textContent = 'window.__injected = true'; document.body.appendChild(s); }""")
    assert page.evaluate("() => window.__injected") is None

    login(page, "platform", "helpdesk", HELPDESK_PASSWORD)
    cookie = cookie_of(context)
    with_cookie = requests.Session()
    with_cookie.cookies.set("lb_session", cookie["value"])
    form = {"name": "Via een andere site", "brin": "49XX", "school_type": "vo"}
    # no token, a wrong one, and another visitor's token: all refused, nothing made
    other = requests.Session()
    html = other.get(system.url("/inloggen"), timeout=10).text
    foreign = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    for token in (None, "x" * 43, foreign):
        data = dict(form, **({"csrf_token": token} if token else {}))
        r = with_cookie.post(system.url("/scholen"), data=data, allow_redirects=False,
                             timeout=10)
        assert r.status_code == 403 and "Formulier verlopen" in r.text
    names = [i["name"] for i in system.api("GET", "/institutions?page_size=500",
                                           system.helpdesk).json()["items"]]
    assert "Via een andere site" not in names
    # the page's own token works
    html = with_cookie.get(system.url("/scholen"), timeout=10).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    r = with_cookie.post(system.url("/scholen"), data=dict(form, csrf_token=token),
                         allow_redirects=False, timeout=10)
    assert r.status_code == 303


def test_another_schools_pages_are_refused(page, system):
    inst_a, admin_a = system.school("42AA", "College A", admin="beheera")
    inst_b, admin_b = system.school("43BB", "College B", admin="beheerb")
    upload_a = submit_list(system, admin_a, [xf.student_row(1)])
    r = system.api("POST", "/students", admin_a, json={
        "student_number": "777", "type": "non_transfer", "initials": "A.",
        "first_name": "Alleen", "last_name": "VanA"})
    assert r.status_code == 201, r.text
    login(page, "43BB", "beheerb", "Beheer-wachtwoord-1")
    for path in (f"/uploads/{upload_a}", "/leerlingen/777", f"/leerlinglijst/{upload_a}"):
        response = page.goto(path)
        assert response.status == 404, path
        expect(page.get_by_role("heading", level=1)).to_have_text("Niet gevonden")
        assert "Alleen" not in page.content()
    check_a11y(page)
    response = page.goto(f"/uploads/{upload_a}/rapport")
    assert response.status == 404
    # a helpdesk page is not for a school's administrator
    response = page.goto("/scholen")
    assert response.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("Geen toegang")
    check_a11y(page)


def test_logout_ends_the_server_side_session(page, context, system):
    login(page, "platform", "helpdesk", HELPDESK_PASSWORD)
    old = cookie_of(context)["value"]
    page.get_by_role("button", name="Uitloggen").click()
    expect(page.get_by_text("U bent uitgelogd.")).to_be_visible()
    # the old cookie, replayed, opens nothing
    r = requests.get(system.url("/scholen"), cookies={"lb_session": old},
                     allow_redirects=False, timeout=10)
    assert r.status_code == 303 and r.headers["Location"].startswith("/inloggen")


def session_file(system, cookie_value):
    sid = cookie_value.split(".")[1]
    return Path(system.data_dir) / "web-sessions" / hashlib.sha256(sid.encode()).hexdigest()


def test_expired_token_goes_back_to_login_and_on(page, context, system):
    system.school("44EX", "Het Verloopcollege", admin="verloop")
    login(page, "44EX", "verloop", "Beheer-wachtwoord-1")
    page.goto("/leerlingen?q=Berg")
    path = session_file(system, cookie_of(context)["value"])
    data = json.loads(path.read_text())
    assert "token" in data and path.stat().st_mode & 0o777 == 0o600
    # the gateway's token expires (signed with the gateway's own key, an hour ago)
    key = (Path(system.data_dir) / "secret-key").read_text().strip()
    claims = jwt.decode(data["token"], key, algorithms=["HS256"])
    claims.update(iat=int(time.time()) - 7200, exp=int(time.time()) - 3600)
    data["token"] = jwt.encode(claims, key, algorithm="HS256")
    path.write_text(json.dumps(data))

    page.goto("/leerlingen?q=Berg&klas=4h1")
    expect(page).to_have_url(re.compile(r"/inloggen\?"))
    expect(page.get_by_text("Uw sessie is verlopen")).to_be_visible()
    assert not path.exists()
    check_a11y(page)
    page.get_by_label("School").fill("44EX")
    page.get_by_label("Gebruikersnaam").fill("verloop")
    page.get_by_label("Wachtwoord").fill("Beheer-wachtwoord-1")
    page.get_by_role("button", name="Inloggen").click()
    expect(page).to_have_url(re.compile(r"/leerlingen\?q=Berg&klas=4h1$"))


def test_wrong_password_does_not_say_which_part(page, system):
    page.goto("/inloggen")
    page.get_by_label("School").fill("platform")
    page.get_by_label("Gebruikersnaam").fill("helpdesk")
    page.get_by_label("Wachtwoord").fill("niet-het-wachtwoord")
    page.get_by_role("button", name="Inloggen").click()
    alert = page.get_by_role("alert")
    expect(alert).to_be_visible()
    text = alert.inner_text().lower()
    assert "onjuiste instelling, gebruikersnaam of wachtwoord" in text
    expect(page.get_by_label("Gebruikersnaam")).to_have_value("helpdesk")
    expect(page.get_by_label("Wachtwoord")).to_have_value("")
    assert page.locator(".field-error").count() == 0  # no field singled out
    check_a11y(page)
    screenshot(page, "inloggen")


def test_keyboard_only(page, system):
    """Log in and reach a page with the keyboard alone; the skip link comes first."""
    page.goto("/inloggen")
    page.keyboard.press("Tab")
    focused = page.evaluate("() => document.activeElement.textContent.trim()")
    assert focused == "Naar de inhoud"
    page.get_by_label("School").focus()
    page.keyboard.type("platform")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab") if page.evaluate(
        "() => document.activeElement.id") != "code" else None
    assert page.evaluate("() => document.activeElement.id") == "code"
    page.keyboard.type("helpdesk")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.id") == "password"
    page.keyboard.type(HELPDESK_PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/$"))
    # through the menu with Tab and Enter
    for _ in range(12):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.textContent.trim()") == "Scholen":
            break
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/scholen$"))
    assert path_of(page) == "/scholen"
