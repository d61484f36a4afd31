"""Reports: ``report.json`` (a versioned contract, see ``report.schema.json``) and a
self-contained ``report.html`` built from template partials the web app reuses."""

from storyline.report.build import SCHEMA_VERSION, build_report, load_schema, write_reports
from storyline.report.html import render_html

__all__ = ["SCHEMA_VERSION", "build_report", "load_schema", "render_html", "write_reports"]
