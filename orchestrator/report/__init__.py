"""The status report: figures from the control tables and dbt control models on one self-contained HTML page.

`service.write_report` gathers, draws and writes it; this package's top level stays light (no plotly) because
`mdp` imports its command at start.
"""

from orchestrator.report.queries import DEFAULT_DAYS, LANE_TABLES, MAX_DAYS, LaneTable, Panel, Window

__all__ = ["DEFAULT_DAYS", "LANE_TABLES", "MAX_DAYS", "LaneTable", "Panel", "Window"]
