"""Which confirmation an operation needs.

Until user and group policies exist, one setting decides (``OperationsOptions.no_confirmation_for``):

* ``nobody``: every operation is confirmed on a device;
* ``clients`` (default): a token issued to an OAuth2 client — an information system using
  ``client_credentials`` or a password grant with client authentication — may sign without
  confirmation; a person's own login (no client) always confirms on a device;
* ``everyone``: anyone may ask for no confirmation.

The request may ask for ``"device"`` (always allowed: stricter) or ``"none"`` (refused with
``ConfirmationRequiredError`` when the setting does not allow it). Without a request the least
strict allowed policy applies: a caller the setting lets skip confirmation skips it.
"""

from __future__ import annotations

from actors.operations.errors import ConfirmationRequiredError
from actors.operations.model import Policy, Requester
from actors.operations.options import NoConfirmationFor


def may_skip_confirmation(setting: NoConfirmationFor, requester: Requester) -> bool:
    """True when ``requester`` may sign without a device confirmation."""
    if setting == "everyone":
        return True
    return setting == "clients" and requester.client_id is not None


def choose_policy(setting: NoConfirmationFor, requester: Requester, requested: Policy | None) -> Policy:
    """The policy of a new operation (see the module docstring)."""
    allowed = may_skip_confirmation(setting, requester)
    if requested is Policy.DEVICE:
        return Policy.DEVICE
    if requested is Policy.NONE and not allowed:
        raise ConfirmationRequiredError(
            "signing without confirmation is not allowed for this caller: confirm on a device"
        )
    return Policy.NONE if allowed else Policy.DEVICE
