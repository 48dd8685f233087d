"""The public surface is a tested contract: `__all__` lists exactly the public names, sorted."""

from __future__ import annotations

from types import ModuleType

import oauth2store


def test_all_lists_every_public_name_sorted() -> None:
    names = vars(oauth2store)
    public = [
        n for n, v in names.items() if (not n.startswith("_") or n == "__version__") and not isinstance(v, ModuleType)
    ]
    assert oauth2store.__all__ == sorted(public)
