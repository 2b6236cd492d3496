"""`python -m daemon` runs the same CLI as the `meraki-sync` console script."""

from daemon.cli.main import main

raise SystemExit(main())
