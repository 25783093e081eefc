"""The reader-facing public endpoints, one blueprint (`public`) for three jobs: the signup API
(`signup`), the confirmation pages (`confirmation`) and the hosted signup page (`hosted`)."""

from flask import Blueprint

bp = Blueprint("public", __name__)

# Each module registers its routes on `bp` when imported; they import `bp` from here.
from service.http.public import confirmation, hosted, signup  # noqa: E402

__all__ = ["bp", "confirmation", "hosted", "signup"]
