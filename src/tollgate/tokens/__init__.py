"""JWT access and refresh tokens: what they carry, how they are signed and checked."""
