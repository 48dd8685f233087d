"""`python -m oauth2store` runs the command."""

from .cli import main

raise SystemExit(main())
