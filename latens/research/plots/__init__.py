"""Figures of the research harness: the grid's results and the study's gains (`grid`, `study`)."""
