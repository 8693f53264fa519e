"""`dlpk ARGS` inside the arcgis-learn image with the local backend: an install of
`dlpk[arcgis-learn]` without a container around the job, as a user would run it."""

import sys

from dlpk.cli.main import main

sys.exit(main(sys.argv[1:]))
