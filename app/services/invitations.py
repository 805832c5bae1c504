"""Sending an invitation: an optional hook, configured as a dotted path in INVITE_SENDER.

Faultline sends no email itself. A deployment that wants invitations sent sets INVITE_SENDER to
``"package.module:function"``, a callable taking the invite and its link; without one the
interviewer copies the link and sends it themselves. A failing sender never undoes the invite.
"""

from __future__ import annotations

from importlib import import_module
from typing import Protocol

from flask import current_app

from app.models import Invite


class InviteSender(Protocol):
    def __call__(self, invite: Invite, url: str) -> None: ...


class InvitationNotSent(Exception):
    """The configured sender could not be loaded or raised; the message says why."""


def configured_sender() -> InviteSender | None:
    """The callable named by INVITE_SENDER, or None when sending is not configured."""
    path = (current_app.config.get("INVITE_SENDER") or "").strip()
    if not path:
        return None
    module_name, _, attribute = path.partition(":")
    try:
        sender = getattr(import_module(module_name), attribute) if attribute else None
    except (ImportError, AttributeError, ValueError) as exc:
        raise InvitationNotSent(f"INVITE_SENDER {path!r} cannot be loaded: {exc}") from exc
    if not callable(sender):
        raise InvitationNotSent(f"INVITE_SENDER {path!r} is not a 'module:function' callable")
    return sender


def send_invitation(invite: Invite, url: str) -> bool:
    """Send ``url`` to the candidate with the configured sender.

    True when it was sent; False when there is nothing to do (no sender configured, or the
    invite has no email address). Raises InvitationNotSent when the sender fails.
    """
    sender = configured_sender()
    if sender is None or not invite.candidate_email:
        return False
    try:
        sender(invite, url)
    except Exception as exc:  # the sender is deployment code: any failure is reported, not raised
        current_app.logger.exception("sending the invitation for invite %s failed", invite.id)
        raise InvitationNotSent(f"{type(exc).__name__}: {exc}"[:300]) from exc
    return True
