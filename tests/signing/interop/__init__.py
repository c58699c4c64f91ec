"""Interop with the openssl CLI (gost engine for GOST): each direction, every parameter set."""
