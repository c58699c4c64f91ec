"""Backends of the HSM unit: ``base`` (protocols), ``soft`` (KEK-wrapped keys), ``pkcs11`` (tokens)."""
