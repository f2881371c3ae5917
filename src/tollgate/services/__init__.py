"""The rules: sign-up, login, refresh rotation, sessions and passwords. No HTTP here."""
