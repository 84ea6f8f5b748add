import sys

from keisei.cli.main import main

sys.exit(main())
