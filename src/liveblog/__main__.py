from liveblog.cli import main

raise SystemExit(main())
