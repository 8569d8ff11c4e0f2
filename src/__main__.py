"""`python -m src`: start the NATS worker.

src/ is a source root (its contents become the Lambda task root, where `naver_sms` is a top-level
package), so the worker puts this folder on sys.path before importing the application package.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from naver_sms.entrypoints.worker.main import main

if __name__ == "__main__":
    sys.exit(main())
