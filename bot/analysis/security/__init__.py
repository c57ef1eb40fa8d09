"""The security verdict: what loading a file would run or read, found from its bytes alone.

`config_findings(model_config)` walks a model config at any depth (rules in `config_rules`);
`file_findings(report)` turns what the readers already refused or noticed (HDF5 links, bombs,
pickles) into findings; `attach(report, findings)` sets `report.security` with the verdict.
Pure data: nothing here imports, unmarshals or unpickles anything from the file.
"""

from bot.analysis.security.file_rules import file_findings
from bot.analysis.security.verdict import attach, verdict_of
from bot.analysis.security.walker import config_findings, custom_object_findings

__all__ = ["attach", "config_findings", "custom_object_findings", "file_findings", "verdict_of"]
