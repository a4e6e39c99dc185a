from ocpp_bridge.simulator.cli import main

raise SystemExit(main())
