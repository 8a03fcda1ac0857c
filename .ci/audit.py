"""Fail on a known vulnerability with a fix available in the pinned requirements.

Reads pip-audit's JSON report (argument 1). A vulnerability without a fixed version
is listed but does not fail the run: there is nothing to upgrade to yet.
"""

import json
import sys

with open(sys.argv[1], encoding="utf-8") as handle:
    report = json.load(handle)
fixable = []
for dependency in report["dependencies"]:
    for vulnerability in dependency.get("vulns", []):
        line = f"{dependency['name']}=={dependency['version']}: {vulnerability['id']}"
        if vulnerability.get("fix_versions"):
            fixable.append(f"{line} (fixed in {', '.join(vulnerability['fix_versions'])})")
        else:
            print(f"audit: {line}, no fix released yet", file=sys.stderr)
for line in fixable:
    print(f"audit: {line}", file=sys.stderr)
pinned = len(report["dependencies"])
print(f"audit: {pinned} pinned packages, {len(fixable)} fixable vulnerabilities")
sys.exit(1 if fixable else 0)
