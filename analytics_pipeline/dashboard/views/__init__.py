"""The dashboard's pages, one module each; each renders one DayRange."""
