"""Built-in scenarios and the registry that names them.

Modules:
  base      ``BaseHttpScenario``: defaults for ``prepare`` and ``compare``
  floor     ``floor``: ``GET /healthz`` and ``POST /api/v1/echo``, plus ``floor_phases``/``floor_in_run``
            for later scenarios that compare themselves with the floor measured in the same run
  ceiling   ``ceiling``: the floor's requests against the trivial server (the generator's own limit)
  crypto    ``crypto``: adapter to ``bench.crypto.run_crypto_bench`` (registered when ``bench.crypto`` exists)
  hsm       ``hsm``: adapter to ``bench.hsm_bench.run_hsm_bench`` (HSM layer vs raw engine, chaos run)
  sign      ``sign``: signatures/s single and batched beside the floor, device confirmation round trip
            (``sign_options``, ``sign_setup``, ``sign_devices``, ``sign_confirm``)

A new scenario (``sign``, ``hsm``, ...) is a module here with a class following ``HttpScenario`` or
``LocalScenario`` (``bench.scenario``) and one ``REGISTRY.register(...)`` line below.
"""

from __future__ import annotations

from bench.scenario import Registry
from bench.scenarios.ceiling import CeilingScenario
from bench.scenarios.crypto import CryptoScenario, crypto_module_present
from bench.scenarios.floor import FloorScenario
from bench.scenarios.hsm import HsmScenario
from bench.scenarios.sign import SignScenario


def default_registry() -> Registry:
    """A registry holding every built-in scenario available in this installation."""
    registry = Registry()
    registry.register(FloorScenario.name, FloorScenario.description, FloorScenario)
    registry.register(CeilingScenario.name, CeilingScenario.description, CeilingScenario)
    registry.register(HsmScenario.name, HsmScenario.description, HsmScenario)
    registry.register(SignScenario.name, SignScenario.description, SignScenario)
    if crypto_module_present():
        registry.register(CryptoScenario.name, CryptoScenario.description, CryptoScenario)
    return registry


__all__ = ["default_registry"]
