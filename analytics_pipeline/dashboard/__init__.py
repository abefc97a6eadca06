"""The analytics dashboard (Streamlit) and `analytics-pipeline sql`: read-only views of the lake.

`queries` holds every SQL statement the pages run (testable without a browser); `ranges` the
shared day range kept in the URL; `app` and `pages` only lay the results out.
"""
