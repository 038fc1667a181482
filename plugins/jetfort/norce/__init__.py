"""Norce Commerce side of jetfort: connection settings, OAuth client credentials, the Connect/Query client,
conversions to the shop models and typed errors.

Import from the submodules (:mod:`jetfort.norce.client`, :mod:`jetfort.norce.convert`, ...); this package
itself imports nothing, so loading one part never drags in the others.
"""

from __future__ import annotations
