"""Mail (issue 17): SMTP sending (aiosmtplib) and the templates mails are rendered from.

What is mailed and when is decided in `services/` (recovery, notifier); mail waits in
the outbox (store) and `services/mail_delivery.py` sends it off the request path.
"""
