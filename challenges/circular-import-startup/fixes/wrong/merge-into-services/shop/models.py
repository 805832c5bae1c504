"""Domain models for user accounts.

``User`` is defined in ``shop.services`` (it needs ``normalize_email``) and re-exported here.
"""

from shop.services import User

__all__ = ["User"]
