"""latens' research harness: the reproduction of the paper and the studies beyond it.

The resumable runner of every experiment (`runner`), the grid of cells
(`grid`), the evaluation protocols (`evaluate`: a classifier trained from
scratch; `linear`: one on frozen codes), statistics and tables (`stats`,
`tables`), the paper's numbers (`paper`), the study of representations and
rules (`study`, `latent_quality`), the checks of the stopping rule and of the tool's
choices (`stop_check`, `choice_check`), the quickstart and their figures
(`plots`). It builds on the core library and the tool; neither imports it.
"""
