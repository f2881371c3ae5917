"""Signing keys: generation, RFC 7638 key ids, the keyring and the JWKS."""
