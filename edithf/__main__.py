from edithf.cli import main

raise SystemExit(main())
