"""Steps the browser tests share: logging in, connecting (the site fixture is in conftest.py)."""

FRAME = "iframe[title='Pipedream Connect']"


def log_in(page, url, username="alice"):
    page.goto(f"{url}/login/?next=/accounts/")
    page.fill("#id_login", username)
    page.fill("#id_password", "connect-demo")
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/accounts/")


def watch_problems(page):
    problems = []
    page.on("console", lambda m: m.type == "error" and problems.append(m.text))
    page.on("pageerror", lambda e: problems.append(str(e)))
    return problems


def connect_in_iframe(page, app_name="GitHub", name="octocat", answer="Allow"):
    page.get_by_role("link", name=f"Connect {app_name}", exact=True).click()
    frame = page.frame_locator(FRAME)
    frame.get_by_label("Account name").fill(name)
    frame.get_by_role("button", name=answer).click()
