"""The daily funnel report: data, charts, PDFs (WeasyPrint) and Slack messages.

Pure parts (data shaping, timelines, message composition) are plain functions; the only
I/O is reading the warehouse (`queries`), writing PDFs (`pdf`) and Slack (`delivery`).
"""
