"""The pages, clicked through in a real Chromium (Debian's, driven by Playwright) against a real server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from tests.live import LiveServer, live_server

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("browser")) as running:
        yield running


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        await chromium.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(locale="de-DE", viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    page.set_default_timeout(10_000)
    yield page
    await context.close()


async def log_in(page: Page, server: LiveServer, email: str) -> None:
    await page.goto(f"{server.url}/login")
    await page.get_by_label("E-Mail").fill(email)
    await page.get_by_label("Passwort").fill("demo-pass")
    await page.get_by_role("button", name="Anmelden").click()


async def test_anna_logs_in_and_sees_her_contract(page: Page, server: LiveServer, tmp_path: Path) -> None:
    token = server.token("anna@example.org")
    async with httpx.AsyncClient() as api:
        listed = await api.get(f"{server.url}/api/v1/contracts", headers={"Authorization": f"Bearer {token}"})
    contracts = listed.json()["items"]
    assert len(contracts) == 1

    await log_in(page, server, "anna@example.org")

    await expect(page).to_have_url(f"{server.url}/portal")
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Anna")
    row = page.locator("tr.contract")
    await expect(row).to_have_count(1)
    await expect(row).to_contain_text(contracts[0]["number"])
    await expect(row).to_contain_text("aktiv")
    await page.screenshot(path=str(tmp_path / "portal.png"), full_page=True)


async def test_wrong_password_shows_an_error_next_to_the_form(page: Page, server: LiveServer) -> None:
    await page.goto(f"{server.url}/login")
    await page.get_by_label("E-Mail").fill("ben@example.org")
    await page.get_by_label("Passwort").fill("not-the-password")
    await page.get_by_role("button", name="Anmelden").click()

    await expect(page.get_by_role("alert")).to_contain_text("falsch")
    await expect(page).to_have_url(f"{server.url}/login")


async def test_logged_out_visitor_is_sent_to_login_and_back(page: Page, server: LiveServer) -> None:
    await page.goto(f"{server.url}/portal")
    await expect(page).to_have_url(f"{server.url}/login?next=/portal")

    await page.get_by_label("E-Mail").fill("ben@example.org")
    await page.get_by_label("Passwort").fill("demo-pass")
    await page.get_by_role("button", name="Anmelden").click()

    await expect(page).to_have_url(f"{server.url}/portal")


async def test_member_cannot_open_the_operator_console(page: Page, server: LiveServer) -> None:
    await log_in(page, server, "anna@example.org")

    response = await page.goto(f"{server.url}/console")

    assert response is not None and response.status == 403


async def test_language_switch_to_english_and_logout(page: Page, server: LiveServer) -> None:
    await log_in(page, server, "anna@example.org")

    await page.get_by_role("link", name="English").click()
    await expect(page.get_by_role("heading", name="My contracts")).to_be_visible()
    await page.get_by_role("button", name="Log out").click()

    await expect(page).to_have_url(f"{server.url}/login?flash=You%20are%20logged%20out.")
    assert (await page.goto(f"{server.url}/portal")) is not None
    await expect(page).to_have_url(f"{server.url}/login?next=/portal")


async def test_login_form_works_by_keyboard_alone(page: Page, server: LiveServer) -> None:
    await page.goto(f"{server.url}/login")

    # The e-mail field has the focus on arrival (autofocus is applied at the next rendering step, which a
    # busy machine delays past the load event: wait for it); Tab reaches the password, Enter submits.
    await expect(page.locator("#email")).to_be_focused()
    await page.keyboard.type("anna@example.org")
    await page.keyboard.press("Tab")
    await expect(page.locator("#password")).to_be_focused()
    await page.keyboard.type("demo-pass")
    await page.keyboard.press("Enter")

    await expect(page).to_have_url(f"{server.url}/portal")


async def test_operator_finds_a_member_and_suspends_and_resumes_a_contract(page: Page, server: LiveServer) -> None:
    await log_in(page, server, "operator@example.org")
    await expect(page).to_have_url(f"{server.url}/console")

    await page.get_by_label("Mitglieder und Verträge suchen").fill("anna@example.org")
    await page.get_by_role("button", name="Suchen").click()
    await page.get_by_role("link", name="Anna Müller").click()
    await page.locator("table").last.get_by_role("link").first.click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("aktiv")

    await page.get_by_label("Grund").first.fill("Browsertest")
    await page.get_by_role("button", name="Sperren").click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("gesperrt")
    await expect(page.locator("tr.event").last).to_contain_text("Browsertest")
    await page.get_by_role("button", name="Entsperren").click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("aktiv")


async def test_board_admits_an_applicant_and_reads_the_register(page: Page, server: LiveServer) -> None:
    await log_in(page, server, "board@example.org")
    await expect(page).to_have_url(f"{server.url}/board")
    members_before = int(await page.locator("#member-count").inner_text())

    await page.get_by_role("button", name="Aufnehmen").first.click()

    await expect(page.get_by_role("status")).to_contain_text("Entscheidung gespeichert")
    await expect(page.locator("#member-count")).to_have_text(str(members_before + 1))
    await page.get_by_role("link", name="Mitgliederliste").click()
    await expect(page.locator("tr.register-entry")).to_have_count(members_before + 1 + 2)  # + those who left
    async with page.expect_download() as download:
        await page.get_by_role("link", name="PDF herunterladen").click()
    assert (await download.value).suggested_filename.endswith(".pdf")


async def test_board_reads_the_audit_log_of_a_change(page: Page, server: LiveServer) -> None:
    await log_in(page, server, "board@example.org")
    await page.goto(f"{server.url}/board/audit?action=member.admit")

    await expect(page.locator("tr.audit-entry").first).to_contain_text("member.admit")


async def test_operator_switches_on_an_ordered_contract_and_anna_sees_her_line(page: Page, server: LiveServer) -> None:
    token = server.token("operator@example.org")
    async with httpx.AsyncClient(base_url=server.url, headers={"Authorization": f"Bearer {token}"}) as api:
        ordered = (await api.get("/api/v1/contracts", params={"status": "ordered"})).json()["items"]
    assert ordered, "the demo has contracts waiting to be switched on"
    contract = ordered[0]

    await log_in(page, server, "operator@example.org")
    await page.goto(f"{server.url}/console/contracts/{contract['id']}")
    await page.get_by_role("link", name="Freischalten (Router, Adresse)").click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Freischalten")
    await expect(page.get_by_label("Zugangsrouter")).to_contain_text("bng-potsdam-1")
    await page.get_by_label("Feste IPv4-Adresse (optional)").fill("100.64.15.200")
    await page.get_by_role("button", name="Freischalten").click()

    await expect(page.locator("p.flash")).to_contain_text("Leitung freigeschaltet")
    await expect(page.locator("#radius-login")).to_have_text("angenommen")
    await expect(page.get_by_text("100.64.15.200").first).to_be_visible()
    # The in-process worker takes the router job; the router is configured by hand in the demo.
    for _ in range(20):
        await page.reload()
        if await page.locator("tr.job.done").count():
            break
        await page.wait_for_timeout(500)
    await expect(page.locator("tr.job.done")).to_have_count(1)
    await expect(page.locator("tr.event").first).to_contain_text("configured by hand")

    await page.get_by_role("button", name="Abmelden").click()
    await log_in(page, server, "anna@example.org")
    await page.get_by_role("link", name="Mein Anschluss").first.click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Mein Anschluss")
    await expect(page.locator("section.line")).to_have_count(1)
    await expect(page.locator("section.line .line-ipv4")).to_contain_text("100.64.")
