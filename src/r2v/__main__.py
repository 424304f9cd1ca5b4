from r2v.cli import main

raise SystemExit(main())
