"""Report sections: each function renders one part of a report notebook (narration,
charts, tables, headlines) from a :class:`csp_analysis.report.ReportContext`, so the
notebooks stay thin."""
