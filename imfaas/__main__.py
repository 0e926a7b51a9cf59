"""``python -m imfaas`` is the ``imfaas`` command."""

from imfaas.cli import main

raise SystemExit(main())
