"""Print the role matrix (who may run each command, press each button, send each form, and
what only the administrator does) as Markdown:

    .venv/bin/python docs/role_matrix.py > docs/role-matrix.md

tests/test_role_matrix.py fails when docs/role-matrix.md is not what this prints.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from handlers.features import REGISTRY
from handlers.guide import matrix_markdown

if __name__ == "__main__":
    sys.stdout.write(matrix_markdown(REGISTRY))
