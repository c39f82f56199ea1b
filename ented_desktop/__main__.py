import sys

from ented_desktop.cli.main import main

sys.exit(main())
