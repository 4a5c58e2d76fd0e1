from ddpm_studio.cli import main

raise SystemExit(main())
