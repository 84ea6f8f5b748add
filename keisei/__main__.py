import sys

from keisei.cli.start import main

sys.exit(main())
