import sys

from geoalign.cli.main import main

sys.exit(main())
