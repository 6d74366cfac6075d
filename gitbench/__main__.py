from gitbench.cli.app import main

raise SystemExit(main())
