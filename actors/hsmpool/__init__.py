"""The server side of the HSM layer: one pool of unit processes per worker, supervised and balanced.

Module map::

    actors.hsmpool
     ├─ errors ........ the pool's branches of the HSM error tree (UnknownKeyDomainError, HsmBusyError,
     │                  KeyGenerationOutcomeUnknownError); HsmUnavailableError is re-exported
     ├─ messages ...... HsmKey / HsmKeyInfo (how callers name keys), UnitState, UnitStatus,
     │                  the UnitClient's messages (GetUnitStatus, RestartUnit)
     ├─ plans ......... settings → UnitPlan per unit (spec, secrets, key domain); KEK file and
     │                  generated passphrase under home; the private socket folder
     ├─ startlock ..... node-wide flock serialising unit starts on one PKCS#11 token
     ├─ metrics ....... latency ring, per-unit and per-pool counters, Prometheus text format
     ├─ handle ........ UnitHandle: a unit's state, connection and accounting, shared by its
     │                  UnitClient (writer) and the Balancer (reader, data path)
     ├─ unit_client ... UnitClient actor: spawn → connect → watch (exit, EOF, pings, timeouts) →
     │                  kill → backoff → restart; offline instead of crash-looping
     ├─ supervisor .... HsmSupervisor: the runtime's OTP supervisor over the UnitClients
     ├─ balancer ...... Balancer: least-loaded healthy unit per key domain, retries elsewhere,
     │                  fail fast with HsmUnavailableError, shed load with HsmBusyError
     └─ pool .......... open_hsm_pool(): plans + supervisor + balancer for one worker process

Actor tree (inside one worker process)::

    HsmSupervisor "hsm" (one_for_one)
     ├─ UnitClient "hsm/soft-1" ─ owns unit process soft-1 ─┐
     ├─ UnitClient "hsm/soft-2" ─ owns unit process soft-2 ─┤ UnitHandles ◄── Balancer ◄── callers
     └─ UnitClient "hsm/p11-T1-1" ... ──────────────────────┘
"""

from actors.hsmpool.balancer import Balancer
from actors.hsmpool.errors import (
    HsmBusyError,
    HsmUnavailableError,
    KeyGenerationOutcomeUnknownError,
    UnknownKeyDomainError,
)
from actors.hsmpool.handle import UnitHandle
from actors.hsmpool.messages import GetUnitStatus, HsmKey, HsmKeyInfo, RestartUnit, UnitState, UnitStatus
from actors.hsmpool.metrics import (
    PROMETHEUS_CONTENT_TYPE,
    prometheus_family,
    prometheus_labels,
    prometheus_text,
)
from actors.hsmpool.plans import SOFT_DOMAIN, UnitPlan, pkcs11_domain, plan_units
from actors.hsmpool.pool import open_hsm_pool
from actors.hsmpool.supervisor import HsmSupervisor, unit_actor_id
from actors.hsmpool.unit_client import UnitClient

__all__ = [
    "PROMETHEUS_CONTENT_TYPE",
    "SOFT_DOMAIN",
    "Balancer",
    "GetUnitStatus",
    "HsmBusyError",
    "HsmKey",
    "HsmKeyInfo",
    "HsmSupervisor",
    "HsmUnavailableError",
    "KeyGenerationOutcomeUnknownError",
    "RestartUnit",
    "UnitClient",
    "UnitHandle",
    "UnitPlan",
    "UnitState",
    "UnitStatus",
    "UnknownKeyDomainError",
    "open_hsm_pool",
    "pkcs11_domain",
    "plan_units",
    "prometheus_family",
    "prometheus_labels",
    "prometheus_text",
    "unit_actor_id",
]
