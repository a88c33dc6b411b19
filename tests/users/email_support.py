"""Helpers of the email-address tests."""

import re


def answer_of(response) -> tuple:
    """What an add on the email page answers: its status, where it sends, and the page it
    ends on (addresses and per-request tokens masked), messages and listing included."""
    page = response.content.decode()
    page = re.sub(r'(csrfmiddlewaretoken" value=|x-csrftoken": |nonce=)"[^"]*"', "TOKEN", page)
    page = re.sub(r"[\w.+-]+@[\w.-]+", "ADDRESS", page)
    return response.status_code, response.redirect_chain, page
