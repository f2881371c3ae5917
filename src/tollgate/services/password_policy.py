"""NIST SP 800-63B §5.1.1.2 password rules: length, no composition rules, no guessable ones."""

from __future__ import annotations

from zxcvbn import zxcvbn

from tollgate.errors import InvalidInput
from tollgate.services.passwords import normalize_password

MAX_PASSWORD_LENGTH = 1024
# zxcvbn's matching grows quickly with length; a prefix this long decides guessability.
ZXCVBN_MAX_LENGTH = 72


class PasswordPolicy:
    def __init__(self, min_length: int, min_score: int) -> None:
        self.min_length = min_length
        self.min_score = min_score

    def check(self, password: str, *, username: str, email: str | None = None) -> None:
        """Raise InvalidInput({"password": reason}) when the password may not be used."""
        reason = self.problem(password, username=username, email=email)
        if reason:
            raise InvalidInput({"password": reason})

    def problem(self, password: str, *, username: str, email: str | None = None) -> str | None:
        password = normalize_password(password)
        # Sentences that name the field: clients show them without a "password:" prefix.
        if len(password) < self.min_length:
            return f"The password needs at least {self.min_length} characters."
        if len(password) > MAX_PASSWORD_LENGTH:
            return f"The password can have at most {MAX_PASSWORD_LENGTH} characters."
        if username and username.casefold() in password.casefold():
            return "The password must not contain the username."
        # zxcvbn keeps the user inputs in module state: it must not run in threads,
        # and on the event loop it takes a few milliseconds.
        inputs = [username] + ([email, email.split("@")[0]] if email else [])
        result = zxcvbn(password[:ZXCVBN_MAX_LENGTH], user_inputs=inputs)
        if result["score"] < self.min_score:
            feedback = result["feedback"]
            hint = feedback.get("warning") or " ".join(feedback.get("suggestions", []))
            return ("This password is too easy to guess. " + (hint or "")).strip()
        return None
