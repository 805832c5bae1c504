"""User accounts for the shop: models, services and the HTTP handlers.

This file deliberately imports none of the submodules, so that ``import shop`` stays cheap for
tooling (the deploy script only reads ``shop.__version__``). Import what you need from the module
that defines it::

    from shop.models import User
    from shop.services import UserService
"""

__version__ = "3.8.0"
