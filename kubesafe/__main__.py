import sys

from kubesafe.entry import main

sys.exit(main())
