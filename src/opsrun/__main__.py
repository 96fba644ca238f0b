from opsrun.cli import main

raise SystemExit(main())
