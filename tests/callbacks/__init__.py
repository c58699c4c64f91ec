"""Tests of ``actors.callbacks``: outbox, URL policy, signed deliveries to a real loopback receiver."""
