"""`python -m src`, the worker's command in the story: the installed `naver-sms-worker` (make venv)."""

from naver_sms.entrypoints.worker.main import main

raise SystemExit(main())
