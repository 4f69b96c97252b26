import sys

from nstui.cli.main import main

sys.exit(main())
