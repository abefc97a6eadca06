"""Every query the dashboard runs, one module per page (views/) plus what they share.

Plain SQL with parameters over a read-only lake connection. Each function aggregates in SQL
and caps the rows it returns, so a page costs the same at all-time over millions of users as
over one week. Results are pandas DataFrames (the pages chart and tabulate them) or small
dataclasses. Nothing here knows about Streamlit.
"""
